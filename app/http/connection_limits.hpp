// Caps on the connections one HTTP listener holds open: in all, and per source address.
// Each open connection costs a file descriptor, a strand and buffers, and a peer that opens
// many and sends slowly would otherwise take them all. Counted at accept, released when
// the connection's session ends; a connection over a cap is refused there and counted.
//
// A full listener makes room by fair share (the slowloris answer): a newcomer whose address
// holds fewer connections than the busiest address takes the place of that address's
// longest-waiting connection, provided it is still waiting for a request (TLS handshake
// or an incomplete request header; never one whose request is being handled). An attack
// spread over a few addresses therefore cannot lock out a client that holds little.
//
// The per-address count groups IPv6 peers by /64 (the smallest prefix routinely assigned
// to one site, RFC 6177 §3): one host can pick any address in its /64, so counting whole
// addresses would not cap it at all. IPv4-mapped IPv6 peers count as their IPv4 address.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
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
  // One open connection's place in the counts; gives it back when destroyed. A slot
  // starts out waiting (for its handshake or first request).
  class Slot {
   public:
    Slot(std::shared_ptr<ConnectionLimiter> owner, std::string key);
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

    // How the connection is closed when its place is reclaimed: called on the accepting
    // thread (not under the limiter's lock), so it should only post the close to the
    // connection's executor.
    void on_reclaim(std::function<void()> close);
    // The connection waits for a request (nothing of it complete yet): reclaimable.
    void waiting();
    // A request header arrived: the connection keeps its place until it waits again.
    void busy();
    // The posted close found the connection busy after all: it stays, and the place
    // taken for the newcomer is counted against the cap again.
    void reclaim_declined();

   private:
    friend class ConnectionLimiter;
    std::shared_ptr<ConnectionLimiter> owner_;
    std::string key_;
    std::function<void()> close_;
    std::uint64_t waiting_since_ = 0;  // the limiter's clock; 0 = busy
    bool reclaiming_ = false;
    std::list<Slot*>::iterator entry_;
  };

  static std::shared_ptr<ConnectionLimiter> create(ConnectionCaps caps);

  // A slot for a connection from `peer`, or null when a cap is reached (counted).
  std::unique_ptr<Slot> try_acquire(const boost::asio::ip::address& peer);

  std::size_t open() const;
  std::uint64_t refused_total_cap() const { return refused_total_.load(std::memory_order_relaxed); }
  std::uint64_t refused_address_cap() const { return refused_address_.load(std::memory_order_relaxed); }
  std::uint64_t reclaimed() const { return reclaimed_.load(std::memory_order_relaxed); }

 private:
  explicit ConnectionLimiter(ConnectionCaps caps) : caps_(caps) {}
  void release(Slot& slot);
  std::function<void()> reclaim_for(const std::string& key);  // under mutex_

  const ConnectionCaps caps_;
  mutable std::mutex mutex_;
  std::size_t open_ = 0;
  std::size_t reclaiming_ = 0;  // closes posted, places not yet given back
  std::uint64_t clock_ = 0;     // orders the waiting connections, oldest first
  std::list<Slot*> slots_;
  std::unordered_map<std::string, std::size_t> per_address_;
  std::atomic<std::uint64_t> refused_total_{0};
  std::atomic<std::uint64_t> refused_address_{0};
  std::atomic<std::uint64_t> reclaimed_{0};
};

}  // namespace portcullis::app
