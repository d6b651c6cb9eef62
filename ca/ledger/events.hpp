// The decision events (ca/event.hpp): written in batches by ca::EventWriter, read newest
// first with filters by the admin API, pruned by age and count.
#pragma once

#include "ca/event.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace portcullis::ca {

struct EventFilter {
  std::optional<std::string> device;
  std::optional<std::string> mac;      // normalised (aa:bb:cc:dd:ee:ff)
  std::optional<std::string> nas;
  std::optional<std::string> serial;   // canonical uppercase hex
  std::optional<std::string> cn;       // the CN a SCEP request asked for
  std::optional<std::string> kind;
  std::optional<std::string> outcome;
  std::optional<UnixTime> since;       // at >= since
  std::size_t limit = 100;
  std::size_t offset = 0;
};

// Counts since an instant, for the console's overview, from the rows each batch of events
// adds to (event_counts.hpp): the minute holding `since` counts whole, and for `rejects`
// the hour holding it.
struct EventSummary {
  struct Minute {
    UnixTime minute = 0;   // at / 60
    std::int64_t accepted = 0, rejected = 0;
  };
  struct RejectCount {
    std::string reason, nas;
    std::int64_t count = 0;
  };
  std::vector<Minute> radius_per_minute;   // minutes with any accept or reject, ascending
  std::vector<RejectCount> rejects;        // RADIUS rejects by reason and NAS (whole hours)
  std::vector<std::pair<std::string, std::int64_t>> scep_outcomes;  // by outcome
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // All of `events` in one transaction (ids assigned in order); nothing on failure.
  virtual void append_events(const std::vector<Event>& events) = 0;
  // Newest first (by time, then id).
  virtual std::vector<Event> events(const EventFilter& filter) = 0;
  // The events of the minutes at or after `since`'s, counted (see EventSummary).
  virtual EventSummary summarize_events(UnixTime since) = 0;
  // Deletes events older than `older_than`, then the oldest beyond `max_rows`. Returns
  // how many were deleted.
  virtual std::size_t prune_events(UnixTime older_than, std::size_t max_rows) = 0;
};

}  // namespace portcullis::ca
