// NAS-level drops (a datagram from an unknown client, a bad or missing
// Message-Authenticator, a malformed packet) as decision events of kind "nas", aggregated
// per source address and reason: the first drop of each minute is an event at once, the
// rest of that minute one more event with their count when the minute is over.
//
// Anyone can send datagrams, from any (spoofed) address, so everything is bounded: at most
// `max_sources` windows are tracked, and at most `max_events` events are made per minute
// across all sources. A drop beyond either bound is counted under the source "other" (one
// event per reason when the minute is over, with the count): a flood of any size makes at
// most max_events + one per reason events a minute, and every drop is in some count.
//
// The drop path for a source already tracked takes one short lock, looks the address
// bytes up and counts: no text is built and nothing is allocated. Events are built and
// handed to the sink after the lock is released. Thread-safe.
#pragma once

#include "ca/event.hpp"
#include "radius/clients.hpp"
#include "radius/sessions.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace portcullis::radius {

enum class DropReason : std::uint8_t {
  unknown_client,
  bad_message_authenticator,
  missing_message_authenticator,
  bad_accounting_authenticator,
  malformed,
};
inline constexpr std::size_t kDropReasons = 5;
// The event vocabulary's term ("unknown_client", …).
const char* to_string(DropReason reason);

struct DropEventLimits {
  std::chrono::seconds window = std::chrono::minutes(1);
  std::size_t max_sources = 4096;  // windows tracked at once
  std::size_t max_events = 1000;   // events a window across all sources, before "other"
};

class DropEvents {
 public:
  // `sink` (may be null: no events, nothing tracked) must outlive this.
  explicit DropEvents(ca::EventSink* sink, DropEventLimits limits = {});

  // `nas`: the client's name, "" when unknown. `detail`: what was wrong, in words; a
  // string with static storage (a literal), kept by pointer.
  void record(const IpAddress& source, std::string_view nas, DropReason reason, const char* detail,
              SteadyClock::time_point now);
  // Emits the counts of the windows that are over and forgets them.
  void sweep(SteadyClock::time_point now);
  std::size_t tracked() const;

 private:
  struct Key {
    IpAddress source;
    DropReason reason;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };
  struct Window {
    SteadyClock::time_point start;
    std::string nas;
    const char* detail;        // the last one's
    std::uint64_t more = 0;    // drops after the first, not yet reported
  };
  // What to emit once the lock is released.
  struct Pending {
    IpAddress source;
    bool other = false;        // the "other" aggregate: no single source
    std::string nas;
    DropReason reason;
    const char* detail;
    std::uint64_t count;
    bool first;                // the first of a window (else its count of more)
  };
  using Out = std::vector<Pending>;

  // Starts a new global window when the current one is over: the "other" counts of the
  // old one are reported.
  void roll_locked(SteadyClock::time_point now, Out& out);
  // A source window that is over: its count of more is reported, within the budget.
  void finish_locked(const Key& key, Window& w, Out& out);
  bool spend_locked();  // one event of this window's budget; false when spent
  void emit(Out& out);

  ca::EventSink* sink_;
  const DropEventLimits limits_;
  mutable std::mutex mutex_;
  std::unordered_map<Key, Window, KeyHash> windows_;
  SteadyClock::time_point global_start_{};
  bool global_started_ = false;
  std::size_t emitted_ = 0;                                  // events of the current global window
  std::array<std::uint64_t, kDropReasons> other_{};          // drops counted under "other"
  std::array<const char*, kDropReasons> other_detail_{};     // the last of each
};

}  // namespace portcullis::radius
