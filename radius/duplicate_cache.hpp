// RFC 5080 §2.2.2 duplicate detection: a request is identified by source IP, source port,
// RADIUS Identifier and receiving socket, plus the Request Authenticator (two distinct
// requests can reuse an Identifier within the cache lifetime). A retransmission of a
// request we have answered gets the very same reply again, without re-running the EAP
// step (that would advance the conversation twice); one still being processed is dropped.
// Bounded: when full, the oldest entries go first. Thread-safe.
#pragma once

#include "radius/clients.hpp"
#include "radius/packet.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

namespace portcullis::radius {

struct RequestKey {
  IpAddress source;
  std::uint16_t source_port = 0;
  std::uint8_t identifier = 0;
  std::uint8_t socket = 0;  // which of our listening sockets received it
  Authenticator authenticator{};
  auto operator<=>(const RequestKey&) const = default;
};

class DuplicateCache {
 public:
  using Clock = std::chrono::steady_clock;

  // RFC 5080 §2.2.2 suggests keeping replies 5-30 s; NASes retransmit within ~3-10 s.
  explicit DuplicateCache(std::chrono::milliseconds lifetime = std::chrono::seconds(10), std::size_t capacity = 65536);

  enum class Status { fresh, in_progress, answered };
  struct Lookup {
    Status status = Status::fresh;
    Bytes reply;  // for `answered`: the cached reply (empty: we chose not to answer)
  };

  // `fresh`: the caller now owns the request and must call complete() or forget().
  Lookup begin(const RequestKey& key, Clock::time_point now);
  // Stores the reply (empty = no reply was sent) for retransmissions until expiry.
  void complete(const RequestKey& key, Bytes reply, Clock::time_point now);
  // Removes an entry: the request was not processed after all.
  void forget(const RequestKey& key);

  std::size_t size() const;

 private:
  struct Entry {
    bool done = false;
    Bytes reply;
    Clock::time_point expires;
  };
  void expire_locked(Clock::time_point now);

  std::chrono::milliseconds lifetime_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::map<RequestKey, Entry> entries_;
  std::deque<std::pair<Clock::time_point, RequestKey>> order_;  // insertion order = expiry order
};

}  // namespace portcullis::radius
