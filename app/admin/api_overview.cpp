// Admin API: the console's overview, this node and the last 24 hours at a glance.
//   GET /api/v1/overview ->
//     {"node":{"name","status":"ok"|"degraded","reason","uptime_seconds","ledger_backend"},
//      "nodes":[N…] (every node serving from this ledger, api_nodes.cpp),
//      "auth_per_minute":{"start_unix","step":60,"accepted":[1440 ints],"rejected":[1440 ints]},
//      "top_reject_reasons":[{"reason","count","nases":[{"nas","count"}…]}…],
//      "enrollments":{"issued","refused","pending"},
//      "expiring_30d":n, "pending_approvals":n}
//   auth_per_minute: RADIUS accepts and rejects (decision events) per minute, the oldest
//   first; slot i is the minute starting at start_unix + 60 i, the last one the current
//   minute. top_reject_reasons: the 10 most frequent reject reasons of the last 24 h (by
//   whole hours, so up to 59 minutes more), each with its NASes (most first). enrollments: SCEP outcomes of the last 24 h (issued counts
//   issued, renewed and approved). expiring_30d: valid certificates whose notAfter is within
//   30 days (the in-memory index). pending_approvals: SCEP requests held for an operator.
//   status is "degraded" with its reason when this node cannot follow a shared ledger, or
//   lost decision events in the last 10 minutes (the counts here then miss some):
//   app/service.cpp's node_health.
// The counts come from per-minute rows kept as events are written (ca/ledger/event_counts.hpp),
// so the answer costs the same however many events the day held.
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"
#include "app/admin/nodes_json.hpp"

#include <algorithm>
#include <array>
#include <map>

namespace portcullis::app {

using admin::json;

namespace {

constexpr std::int64_t kMinutes = 1440;
constexpr std::size_t kTopReasons = 10;
constexpr std::size_t kMaxPendingCounted = 10000;

json per_minute(const ca::EventSummary& summary, std::int64_t first_minute) {
  std::vector<std::int64_t> accepted(kMinutes, 0), rejected(kMinutes, 0);
  for (const auto& m : summary.radius_per_minute) {
    const std::int64_t slot = m.minute - first_minute;
    if (slot < 0 || slot >= kMinutes) continue;  // a clock step: outside the window
    accepted[static_cast<std::size_t>(slot)] = m.accepted;
    rejected[static_cast<std::size_t>(slot)] = m.rejected;
  }
  return json{{"start_unix", first_minute * 60}, {"step", 60}, {"accepted", accepted}, {"rejected", rejected}};
}

json top_reasons(const ca::EventSummary& summary) {
  struct Reason {
    std::int64_t count = 0;
    std::vector<std::pair<std::string, std::int64_t>> nases;
  };
  std::map<std::string, Reason> by_reason;
  for (const auto& r : summary.rejects) {
    Reason& reason = by_reason[r.reason];
    reason.count += r.count;
    reason.nases.emplace_back(r.nas, r.count);
  }
  std::vector<std::pair<std::string, Reason>> sorted(by_reason.begin(), by_reason.end());
  const auto most_first = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second.count != b.second.count ? a.second.count > b.second.count : a.first < b.first;
  });
  if (sorted.size() > kTopReasons) sorted.resize(kTopReasons);
  json out = json::array();
  for (auto& [reason, r] : sorted) {
    std::sort(r.nases.begin(), r.nases.end(), most_first);
    json nases = json::array();
    for (const auto& [nas, count] : r.nases) nases.push_back(json{{"nas", nas}, {"count", count}});
    out.push_back(json{{"reason", reason}, {"count", r.count}, {"nases", std::move(nases)}});
  }
  return out;
}

json enrollments(const ca::EventSummary& summary) {
  std::int64_t issued = 0, refused = 0, pending = 0;
  for (const auto& [outcome, count] : summary.scep_outcomes) {
    if (outcome == "issued" || outcome == "renewed" || outcome == "approved") issued += count;
    else if (outcome == "pending") pending += count;
    else if (outcome == "reject") refused += count;
  }
  return json{{"issued", issued}, {"refused", refused}, {"pending", pending}};
}

}  // namespace

HttpResponse AdminApi::overview(const std::map<std::string, std::string>& query, ca::UnixTime now) {
  admin::check_query(query, {});
  ca::Ledger& ledger = registry_.ledger();
  const std::int64_t first_minute = now / 60 - (kMinutes - 1);
  const ca::EventSummary summary = ledger.summarize_events(first_minute * 60);

  const ca::NodeHealth health = admin::node_health(node_);
  const json node{{"name", node_.name},
                  {"status", health.status},
                  {"reason", health.reason},
                  {"uptime_seconds", node_.started_at > 0 ? std::max<ca::UnixTime>(0, now - node_.started_at) : 0},
                  {"ledger_backend", node_.ledger_backend}};

  const std::array<ca::UnixTime, 1> windows{30 * 86400};
  const ca::CertificateCensus census = registry_.index().census(now, windows);
  const std::size_t pending = ledger.list_scep_requests("pending", kMaxPendingCounted).size();
  return admin::json_response(200, json{{"node", node},
                                        {"nodes", admin::nodes_json(ledger, node_)},
                                        {"auth_per_minute", per_minute(summary, first_minute)},
                                        {"top_reject_reasons", top_reasons(summary)},
                                        {"enrollments", enrollments(summary)},
                                        {"expiring_30d", census.expiring.at(0)},
                                        {"pending_approvals", pending}});
}

}  // namespace portcullis::app
