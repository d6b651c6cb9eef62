#include "app/http/connection_limits.hpp"

#include "ca/peer_source.hpp"

namespace portcullis::app {
namespace {

// What a peer is counted under, as for every per-source limit: IPv4 address or IPv6 /64.
std::string address_key(const boost::asio::ip::address& peer) { return ca::peer_source_key(peer.to_string()); }

}  // namespace

ConnectionLimiter::Slot::Slot(std::shared_ptr<ConnectionLimiter> owner, std::string key)
    : owner_(std::move(owner)), key_(std::move(key)) {}

ConnectionLimiter::Slot::~Slot() { owner_->release(*this); }

void ConnectionLimiter::Slot::on_reclaim(std::function<void()> close) {
  std::lock_guard lock(owner_->mutex_);
  close_ = std::move(close);
}

void ConnectionLimiter::Slot::waiting() {
  std::lock_guard lock(owner_->mutex_);
  if (waiting_since_ == 0) waiting_since_ = ++owner_->clock_;
}

void ConnectionLimiter::Slot::busy() {
  std::lock_guard lock(owner_->mutex_);
  waiting_since_ = 0;
}

void ConnectionLimiter::Slot::reclaim_declined() {
  std::lock_guard lock(owner_->mutex_);
  if (!reclaiming_) return;
  reclaiming_ = false;
  --owner_->reclaiming_;
}

std::shared_ptr<ConnectionLimiter> ConnectionLimiter::create(ConnectionCaps caps) {
  return std::shared_ptr<ConnectionLimiter>(new ConnectionLimiter(caps));
}

std::unique_ptr<ConnectionLimiter::Slot> ConnectionLimiter::try_acquire(const boost::asio::ip::address& peer) {
  std::string key = address_key(peer);
  std::function<void()> close_victim;
  std::unique_ptr<Slot> slot;
  {
    std::lock_guard lock(mutex_);
    // A place is reclaimed only for an address at least two below the busiest, hence
    // below its own cap: the per-address check after a reclaim cannot fail.
    if (open_ - reclaiming_ >= caps_.total) {
      close_victim = reclaim_for(key);
      if (!close_victim) {
        refused_total_.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
      }
    }
    const auto existing = per_address_.find(key);
    if (existing != per_address_.end() && existing->second >= caps_.per_address) {
      refused_address_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    ++per_address_[key];
    ++open_;
    slot = std::make_unique<Slot>(shared_from_this(), std::move(key));
    slot->waiting_since_ = ++clock_;
    slot->entry_ = slots_.insert(slots_.end(), slot.get());
  }
  // Outside the lock: the close may drop the last reference to the victim's connection,
  // whose slot then gives its place back through release(), which takes the lock.
  if (close_victim) close_victim();
  return slot;
}

// Fair share: the victim's address must hold at least two more connections than the
// newcomer's, so that after the swap the newcomer's address still holds fewer. Among
// those, the busiest address loses its longest-waiting connection. Returns how to close
// it (empty: no victim).
std::function<void()> ConnectionLimiter::reclaim_for(const std::string& key) {
  const auto mine = per_address_.find(key);
  const std::size_t held = mine == per_address_.end() ? 0 : mine->second;
  Slot* victim = nullptr;
  std::size_t victim_count = 0;
  for (Slot* slot : slots_) {
    if (slot->waiting_since_ == 0 || slot->reclaiming_ || !slot->close_) continue;
    const std::size_t count = per_address_.at(slot->key_);
    if (count < held + 2) continue;
    if (!victim || count > victim_count || (count == victim_count && slot->waiting_since_ < victim->waiting_since_)) {
      victim = slot;
      victim_count = count;
    }
  }
  if (victim == nullptr) return {};
  victim->reclaiming_ = true;
  ++reclaiming_;
  reclaimed_.fetch_add(1, std::memory_order_relaxed);
  return victim->close_;
}

std::size_t ConnectionLimiter::open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

void ConnectionLimiter::release(Slot& slot) {
  std::lock_guard lock(mutex_);
  --open_;
  if (slot.reclaiming_) --reclaiming_;
  slots_.erase(slot.entry_);
  const auto it = per_address_.find(slot.key_);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

}  // namespace portcullis::app
