// The overview's counts (EventStore::summarize_events) kept as they are written: each
// batch of events adds to per-minute rows of table event_counts in its own transaction, so
// the overview reads at most a day of small rows however many events the day held.
#pragma once

#include "ca/event.hpp"
#include "ca/ledger/events.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace portcullis::ca {

// How many events of one kind and outcome a minute held. Only what the overview shows is
// counted: RADIUS accepts and rejects (a reject keeps its reason and NAS, for the top
// reasons) and SCEP outcomes; the rest leave reason and nas empty, so a minute is a
// handful of rows whatever its traffic.
struct EventCount {
  UnixTime minute = 0;   // at / 60
  std::string kind, outcome, reason, nas;
  std::int64_t count = 0;
};

// The rows `events` add, one per key, sorted by (minute, kind, outcome, reason, nas):
// writers that add in one order take the rows' locks in one order, so two nodes adding to
// the same minute wait for each other rather than deadlock.
std::vector<EventCount> count_events(const std::vector<Event>& events);

// The summary those rows make (rows of any order; rows of one key are added up).
EventSummary summarize_counts(const std::vector<EventCount>& rows);

// Rows older than this are pruned with the events: the overview reads one day.
inline constexpr UnixTime kEventCountsKeptSeconds = 2 * 86400;

}  // namespace portcullis::ca
