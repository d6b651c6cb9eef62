#include "app/http_connection_limits.hpp"

namespace portcullis::app {
namespace {

// The bytes a peer is counted under: the IPv4 address, or the /64 of an IPv6 one.
std::string address_key(const boost::asio::ip::address& peer) {
  if (peer.is_v4()) {
    const auto bytes = peer.to_v4().to_bytes();
    return std::string(bytes.begin(), bytes.end());
  }
  const auto v6 = peer.to_v6();
  if (v6.is_v4_mapped()) return address_key(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6));
  const auto bytes = v6.to_bytes();
  return std::string(bytes.begin(), bytes.begin() + 8);
}

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
