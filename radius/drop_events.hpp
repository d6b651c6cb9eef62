// NAS-level drops (a datagram from an unknown client, a bad or missing
// Message-Authenticator, a malformed packet) as decision events of kind "nas", aggregated
// per source address and reason: the first drop of each minute is an event at once, the
// rest of that minute one more event with their count when the minute is over. Anyone
// can send datagrams, so a flood makes at most two events a minute per source and reason,
// and at most `max_sources` windows are tracked (the rest share one, source "other").
// Thread-safe.
#pragma once

#include "ca/event.hpp"
#include "radius/clients.hpp"
#include "radius/sessions.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace portcullis::radius {

namespace drop_reason {
inline constexpr const char* kUnknownClient = "unknown_client";
inline constexpr const char* kBadMessageAuthenticator = "bad_message_authenticator";
inline constexpr const char* kMissingMessageAuthenticator = "missing_message_authenticator";
inline constexpr const char* kBadAccountingAuthenticator = "bad_accounting_authenticator";
inline constexpr const char* kMalformed = "malformed";
}  // namespace drop_reason

class DropEvents {
 public:
  // `sink` (may be null: no events) must outlive this.
  explicit DropEvents(ca::EventSink* sink, std::chrono::seconds window = std::chrono::minutes(1),
                      std::size_t max_sources = 4096);

  // `nas`: the client's name, "" when unknown. `detail`: what was wrong, in words.
  void record(const IpAddress& source, const std::string& nas, const char* reason, const std::string& detail,
              SteadyClock::time_point now);
  // Emits the counts of the windows that are over and forgets them.
  void sweep(SteadyClock::time_point now);
  std::size_t tracked() const;

 private:
  struct Window {
    SteadyClock::time_point start;
    std::string source;
    std::string nas;
    std::string reason;
    std::string detail;        // the last one's
    std::uint64_t more = 0;    // drops after the first, not yet reported
  };
  void emit_first(const Window& w);
  void emit_more(const Window& w);

  ca::EventSink* sink_;
  const std::chrono::seconds window_;
  const std::size_t max_sources_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;  // source + '\n' + reason
};

}  // namespace portcullis::radius
