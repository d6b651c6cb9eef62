// The decision events (ca/event.hpp): written in batches by ca::EventWriter, read newest
// first with filters by the admin API, pruned by age and count.
#pragma once

#include "ca/event.hpp"

#include <cstddef>
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

class EventStore {
 public:
  virtual ~EventStore() = default;

  // All of `events` in one transaction (ids assigned in order); nothing on failure.
  virtual void append_events(const std::vector<Event>& events) = 0;
  // Newest first (by time, then id).
  virtual std::vector<Event> events(const EventFilter& filter) = 0;
  // Deletes events older than `older_than`, then the oldest beyond `max_rows`. Returns
  // how many were deleted.
  virtual std::size_t prune_events(UnixTime older_than, std::size_t max_rows) = 0;
};

}  // namespace portcullis::ca
