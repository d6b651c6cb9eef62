// The overview's counts (EventStore::summarize_events) kept as they are written: each
// batch of events adds to small rows in its own transaction, so the overview reads about
// four thousand rows for its day however many events the day held.
#pragma once

#include "ca/event.hpp"
#include "ca/ledger/events.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace portcullis::ca {

// How many RADIUS accepts or rejects, or SCEP outcomes of one kind, a minute held: the
// overview's chart and its enrollment counts (table event_counts).
struct MinuteCount {
  UnixTime minute = 0;   // at / 60
  std::string kind, outcome;
  std::int64_t count = 0;
};

// How many RADIUS rejects for one reason from one NAS an hour held: the overview's top
// reasons (table reject_counts). By the hour, because a busy day has a row per reason
// and NAS in each period: 24 periods of them, not 1,440.
struct RejectHour {
  UnixTime hour = 0;     // at / 3600
  std::string reason, nas;
  std::int64_t count = 0;
};

struct EventCounts {
  std::vector<MinuteCount> minutes;
  std::vector<RejectHour> rejects;
};

// The rows `events` add, one per key, each list sorted by its key: writers that add in one
// order take the rows' locks in one order, so two nodes adding to the same minute wait for
// each other rather than deadlock. Other kinds and outcomes are not counted.
EventCounts count_events(const std::vector<Event>& events);

// The summary those rows make (rows of any order; rows of one key are added up).
EventSummary summarize_counts(const EventCounts& rows);

// Rows older than this are pruned with the events: the overview reads one day.
inline constexpr UnixTime kEventCountsKeptSeconds = 2 * 86400;

}  // namespace portcullis::ca
