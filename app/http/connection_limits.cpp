#include "app/http/connection_limits.hpp"

#include "ca/peer_source.hpp"

namespace portcullis::app {
namespace {

// What a peer is counted under, as for every per-source limit: IPv4 address or IPv6 /64.
std::string address_key(const boost::asio::ip::address& peer) { return ca::peer_source_key(peer.to_string()); }

}  // namespace

ConnectionLimiter::Slot::Slot(std::shared_ptr<ConnectionLimiter> owner, std::string key)
    : owner_(std::move(owner)), key_(std::move(key)) {}

ConnectionLimiter::Slot::~Slot() { owner_->release(key_); }

std::shared_ptr<ConnectionLimiter> ConnectionLimiter::create(ConnectionCaps caps) {
  return std::shared_ptr<ConnectionLimiter>(new ConnectionLimiter(caps));
}

std::unique_ptr<ConnectionLimiter::Slot> ConnectionLimiter::try_acquire(const boost::asio::ip::address& peer) {
  std::string key = address_key(peer);
  {
    std::lock_guard lock(mutex_);
    if (open_ >= caps_.total) {
      refused_total_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    std::size_t& from_peer = per_address_[key];
    if (from_peer >= caps_.per_address) {
      refused_address_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    ++from_peer;
    ++open_;
  }
  return std::make_unique<Slot>(shared_from_this(), std::move(key));
}

std::size_t ConnectionLimiter::open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

void ConnectionLimiter::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  --open_;
  const auto it = per_address_.find(key);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

}  // namespace portcullis::app
