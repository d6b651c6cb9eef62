#include "radius/duplicate_cache.hpp"

namespace portcullis::radius {

DuplicateCache::DuplicateCache(std::chrono::milliseconds lifetime, std::size_t capacity)
    : lifetime_(lifetime), capacity_(capacity == 0 ? 1 : capacity) {}

// Entries are queued in insertion order with their expiry; an entry completed later keeps
// its first deadline, so the queue stays ordered and expiry is O(expired).
void DuplicateCache::expire_locked(Clock::time_point now) {
  while (!order_.empty() && (order_.front().first <= now || entries_.size() > capacity_)) {
    auto it = entries_.find(order_.front().second);
    // An in-progress entry that outlived its deadline is stale (its worker gave up or was
    // very slow); dropping it only means a later retransmission is processed afresh.
    if (it != entries_.end() && it->second.expires == order_.front().first) entries_.erase(it);
    order_.pop_front();
  }
}

DuplicateCache::Lookup DuplicateCache::begin(const RequestKey& key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire_locked(now);
  if (auto it = entries_.find(key); it != entries_.end()) {
    if (!it->second.done) return {Status::in_progress, {}};
    return {Status::answered, it->second.reply};
  }
  const auto expires = now + lifetime_;
  entries_.emplace(key, Entry{false, {}, expires});
  order_.emplace_back(expires, key);
  // Over capacity: the oldest go, even unexpired ones (bounded memory beats a longer memory).
  expire_locked(now);
  return {Status::fresh, {}};
}

void DuplicateCache::complete(const RequestKey& key, Bytes reply, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(key); it != entries_.end()) {
    it->second.done = true;
    it->second.reply = std::move(reply);
  }
  expire_locked(now);
}

void DuplicateCache::forget(const RequestKey& key) {
  std::lock_guard lock(mutex_);
  entries_.erase(key);  // its queue slot is skipped when it comes up (expires no longer matches)
}

std::size_t DuplicateCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace portcullis::radius
