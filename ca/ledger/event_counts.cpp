#include "ca/ledger/event_counts.hpp"

#include <map>
#include <tuple>

namespace portcullis::ca {

EventCounts count_events(const std::vector<Event>& events) {
  std::map<std::tuple<UnixTime, std::string, std::string>, std::int64_t> minutes;
  std::map<std::tuple<UnixTime, std::string, std::string>, std::int64_t> rejects;
  for (const Event& e : events) {
    const bool radius = e.kind == "radius" && (e.outcome == "accept" || e.outcome == "reject");
    if (!radius && e.kind != "scep") continue;
    minutes[{e.at / 60, e.kind, e.outcome}] += e.count;
    if (radius && e.outcome == "reject") rejects[{e.at / 3600, e.reason, e.nas}] += e.count;
  }
  EventCounts out;
  for (const auto& [key, count] : minutes) {
    const auto& [minute, kind, outcome] = key;
    out.minutes.push_back({minute, kind, outcome, count});
  }
  for (const auto& [key, count] : rejects) {
    const auto& [hour, reason, nas] = key;
    out.rejects.push_back({hour, reason, nas, count});
  }
  return out;
}

EventSummary summarize_counts(const EventCounts& rows) {
  std::map<UnixTime, EventSummary::Minute> minutes;
  std::map<std::pair<std::string, std::string>, std::int64_t> rejects;
  std::map<std::string, std::int64_t> scep;
  for (const MinuteCount& r : rows.minutes) {
    if (r.kind == "scep") {
      scep[r.outcome] += r.count;
      continue;
    }
    EventSummary::Minute& m = minutes[r.minute];
    m.minute = r.minute;
    (r.outcome == "accept" ? m.accepted : m.rejected) += r.count;
  }
  for (const RejectHour& r : rows.rejects) rejects[{r.reason, r.nas}] += r.count;
  EventSummary out;
  for (const auto& [minute, m] : minutes) out.radius_per_minute.push_back(m);
  for (const auto& [key, count] : rejects) out.rejects.push_back({key.first, key.second, count});
  out.scep_outcomes.assign(scep.begin(), scep.end());
  return out;
}

}  // namespace portcullis::ca
