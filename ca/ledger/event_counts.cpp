#include "ca/ledger/event_counts.hpp"

#include <map>
#include <tuple>

namespace portcullis::ca {
namespace {

using Key = std::tuple<UnixTime, std::string, std::string, std::string, std::string>;

bool counted(const Event& e) {
  return e.kind == "scep" || (e.kind == "radius" && (e.outcome == "accept" || e.outcome == "reject"));
}

}  // namespace

std::vector<EventCount> count_events(const std::vector<Event>& events) {
  std::map<Key, std::int64_t> counts;
  for (const Event& e : events) {
    if (!counted(e)) continue;
    const bool reject = e.kind == "radius" && e.outcome == "reject";
    counts[Key{e.at / 60, e.kind, e.outcome, reject ? e.reason : "", reject ? e.nas : ""}] += e.count;
  }
  std::vector<EventCount> out;
  out.reserve(counts.size());
  for (const auto& [key, count] : counts) {
    const auto& [minute, kind, outcome, reason, nas] = key;
    out.push_back({minute, kind, outcome, reason, nas, count});
  }
  return out;
}

EventSummary summarize_counts(const std::vector<EventCount>& rows) {
  std::map<UnixTime, EventSummary::Minute> minutes;
  std::map<std::pair<std::string, std::string>, std::int64_t> rejects;
  std::map<std::string, std::int64_t> scep;
  for (const EventCount& r : rows) {
    if (r.kind == "scep") {
      scep[r.outcome] += r.count;
    } else if (r.kind == "radius") {
      EventSummary::Minute& m = minutes[r.minute];
      m.minute = r.minute;
      if (r.outcome == "accept") {
        m.accepted += r.count;
      } else if (r.outcome == "reject") {
        m.rejected += r.count;
        rejects[{r.reason, r.nas}] += r.count;
      }
    }
  }
  EventSummary out;
  for (const auto& [minute, m] : minutes) out.radius_per_minute.push_back(m);
  for (const auto& [key, count] : rejects) out.rejects.push_back({key.first, key.second, count});
  out.scep_outcomes.assign(scep.begin(), scep.end());
  return out;
}

}  // namespace portcullis::ca
