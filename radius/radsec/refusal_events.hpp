// RadSec connections refused (at the TLS handshake, or over a connection cap) as decision
// events of kind "radsec", outcome "refused", aggregated per peer address and reason: the
// first refusal of each minute is an event at once with everything known about it (the
// certificate's CN, serial, issuer, the NAS it named), the rest of that minute one more
// event with their count when the minute is over.
//
// A TCP peer cannot spoof its address, but one host may reconnect as fast as it likes and
// many hosts may try: at most `max_sources` windows are tracked, and at most `max_events`
// events are made per minute across all of them. Refusals past either bound are counted
// under the address "other" (one event per reason when the minute is over), so a storm of
// any size makes a bounded number of events and every refusal is in some count.
// No I/O; thread-safe; the sink is called after the lock is released.
#pragma once

#include "ca/event.hpp"
#include "radius/clients.hpp"
#include "radius/sessions.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace portcullis::radius::radsec {

struct RefusalEventLimits {
  std::chrono::seconds window = std::chrono::minutes(1);
  std::size_t max_sources = 1024;  // windows tracked at once
  std::size_t max_events = 300;    // events a window across all sources, before "other"
};

// One refused connection. `reason` is the vocabulary of docs/events.md (kind radsec).
struct Refusal {
  IpAddress source;
  std::string reason;
  std::string detail;                        // in words
  std::string nas;                           // the RadSec client the certificate named, if any
  std::string cn, serial, issuer, device;    // the certificate's, when one was seen
};

class RefusalEvents {
 public:
  // `sink` (may be null: nothing recorded) must outlive this.
  explicit RefusalEvents(ca::EventSink* sink, RefusalEventLimits limits = {});

  void record(Refusal refusal, SteadyClock::time_point now);
  // Emits the counts of the windows that are over and forgets them.
  void sweep(SteadyClock::time_point now);
  std::size_t tracked() const;

 private:
  using Key = std::pair<IpAddress, std::string>;  // source, reason
  struct Window {
    SteadyClock::time_point start;
    Refusal last;
    std::uint64_t more = 0;  // refusals after the first, not yet reported
  };
  struct Pending {
    Refusal refusal;
    std::uint64_t count;
    enum class Kind { first, more, other } kind;
  };
  using Out = std::vector<Pending>;

  void roll_locked(SteadyClock::time_point now, Out& out);
  void finish_locked(Window& w, Out& out);
  bool spend_locked();
  void count_other_locked(Refusal refusal, std::uint64_t n);
  void emit(Out& out) noexcept;

  ca::EventSink* sink_;
  const RefusalEventLimits limits_;
  mutable std::mutex mutex_;
  std::map<Key, Window> windows_;
  SteadyClock::time_point global_start_{};
  bool global_started_ = false;
  std::size_t emitted_ = 0;                                       // events of the current global window
  std::map<std::string, std::pair<std::uint64_t, Refusal>> other_;  // by reason: count, the last one
};

}  // namespace portcullis::radius::radsec
