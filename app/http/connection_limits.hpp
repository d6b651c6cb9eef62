// Caps on the connections one HTTP listener holds open: in all, and per source address.
// Each open connection costs a file descriptor, a strand and buffers, and a peer that opens
// many and sends slowly would otherwise take them all. Counted at accept, released when
// the connection's session ends; a connection over a cap is refused there and counted.
//
// The per-address count groups IPv6 peers by /64 (the smallest prefix routinely assigned
// to one site, RFC 6177 §3): one host can pick any address in its /64, so counting whole
// addresses would not cap it at all. IPv4-mapped IPv6 peers count as their IPv4 address.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace portcullis::app {

struct ConnectionCaps {
  std::size_t total = 512;        // open connections on this listener
  std::size_t per_address = 64;   // of those, from one address (IPv6: one /64)
};

class ConnectionLimiter : public std::enable_shared_from_this<ConnectionLimiter> {
 public:
  // One open connection's place in the counts; gives it back when destroyed.
  class Slot {
   public:
    Slot(std::shared_ptr<ConnectionLimiter> owner, std::string key);
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    std::shared_ptr<ConnectionLimiter> owner_;
    std::string key_;
  };

  static std::shared_ptr<ConnectionLimiter> create(ConnectionCaps caps);

  // A slot for a connection from `peer`, or null when a cap is reached (counted).
  std::unique_ptr<Slot> try_acquire(const boost::asio::ip::address& peer);

  std::size_t open() const;
  std::uint64_t refused_total_cap() const { return refused_total_.load(std::memory_order_relaxed); }
  std::uint64_t refused_address_cap() const { return refused_address_.load(std::memory_order_relaxed); }

 private:
  explicit ConnectionLimiter(ConnectionCaps caps) : caps_(caps) {}
  void release(const std::string& key);

  const ConnectionCaps caps_;
  mutable std::mutex mutex_;
  std::size_t open_ = 0;
  std::unordered_map<std::string, std::size_t> per_address_;
  std::atomic<std::uint64_t> refused_total_{0};
  std::atomic<std::uint64_t> refused_address_{0};
};

}  // namespace portcullis::app
