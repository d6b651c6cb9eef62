#include "radius/sessions.hpp"

#include "ca/x509.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace portcullis::radius {

EapSessions::EapSessions(std::chrono::milliseconds idle_timeout, std::size_t capacity)
    : idle_timeout_(idle_timeout), capacity_(capacity == 0 ? 1 : capacity) {}

// Idle entries sit at the front of `recency`: expiry stops at the first live one.
void EapSessions::expire_locked(SteadyClock::time_point now) {
  while (!recency_.empty()) {
    const auto it = entries_.find(recency_.front());
    if (now - it->second.last_used <= idle_timeout_) break;
    erase_locked(recency_.front());
  }
}

void EapSessions::put_locked(const std::string& state, std::shared_ptr<Conversation> conversation,
                             SteadyClock::time_point now) {
  erase_locked(state);
  recency_.push_back(state);
  entries_.emplace(state, Entry{std::move(conversation), now, std::prev(recency_.end())});
}

void EapSessions::erase_locked(const std::string& state) {
  const auto it = entries_.find(state);
  if (it == entries_.end()) return;
  recency_.erase(it->second.recency);
  entries_.erase(it);
}

std::shared_ptr<Conversation> EapSessions::find(const std::string& state, SteadyClock::time_point now) {
  std::lock_guard lock(mutex_);
  expire_locked(now);
  const auto it = entries_.find(state);
  if (it == entries_.end()) return nullptr;
  it->second.last_used = now;
  recency_.splice(recency_.end(), recency_, it->second.recency);
  return it->second.conversation;
}

bool EapSessions::insert(const std::string& state, std::shared_ptr<Conversation> conversation,
                         SteadyClock::time_point now) {
  std::lock_guard lock(mutex_);
  expire_locked(now);
  bool evicted = false;
  if (entries_.size() >= capacity_ && !entries_.count(state)) {
    erase_locked(recency_.front());
    evicted = true;
  }
  put_locked(state, std::move(conversation), now);
  return evicted;
}

void EapSessions::rekey(const std::string& old_state, const std::string& new_state,
                        std::shared_ptr<Conversation> conversation, SteadyClock::time_point now) {
  std::lock_guard lock(mutex_);
  erase_locked(old_state);
  put_locked(new_state, std::move(conversation), now);
}

void EapSessions::erase(const std::string& state) {
  std::lock_guard lock(mutex_);
  erase_locked(state);
}

std::size_t EapSessions::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::string new_state() {
  std::string state(16, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(state.data()), static_cast<int>(state.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return state;
}

AcceptRecords::AcceptRecords(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

std::string AcceptRecords::remember(AcceptRecord record) {
  const std::string raw = new_state();
  const std::string token = "pc1:" + ca::to_hex(ca::Bytes(raw.begin(), raw.end()));
  std::lock_guard lock(mutex_);
  if (!record.calling_station_id.empty()) latest_by_station_[record.calling_station_id] = token;
  if (!record.user_name.empty()) latest_by_user_[record.user_name] = token;
  by_token_.emplace(token, std::move(record));
  order_.push_back(token);
  while (order_.size() > capacity_) {
    auto old = by_token_.find(order_.front());
    if (old != by_token_.end()) {
      if (auto s = latest_by_station_.find(old->second.calling_station_id);
          s != latest_by_station_.end() && s->second == old->first)
        latest_by_station_.erase(s);
      if (auto u = latest_by_user_.find(old->second.user_name); u != latest_by_user_.end() && u->second == old->first)
        latest_by_user_.erase(u);
      by_token_.erase(old);
    }
    order_.pop_front();
  }
  return token;
}

std::optional<AcceptRecord> AcceptRecords::by_token(const std::string& token) const {
  std::lock_guard lock(mutex_);
  auto it = by_token_.find(token);
  if (it == by_token_.end()) return std::nullopt;
  return it->second;
}

std::optional<AcceptRecord> AcceptRecords::by_calling_station(const std::string& calling_station_id) const {
  std::lock_guard lock(mutex_);
  auto it = latest_by_station_.find(calling_station_id);
  if (it == latest_by_station_.end()) return std::nullopt;
  return by_token_.at(it->second);
}

std::optional<AcceptRecord> AcceptRecords::by_user_name(const std::string& user_name) const {
  std::lock_guard lock(mutex_);
  auto it = latest_by_user_.find(user_name);
  if (it == latest_by_user_.end()) return std::nullopt;
  return by_token_.at(it->second);
}

void AccountingSessions::upsert(LiveSession session) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(session.nas, session.acct_session_id);
  live_[std::move(key)] = std::move(session);
}

void AccountingSessions::stop(const std::string& nas, const std::string& acct_session_id) {
  std::lock_guard lock(mutex_);
  live_.erase({nas, acct_session_id});
}

std::vector<LiveSession> AccountingSessions::by_serial(const std::string& serial) const {
  std::lock_guard lock(mutex_);
  std::vector<LiveSession> out;
  for (const auto& [key, s] : live_)
    if (s.serial == serial) out.push_back(s);
  return out;
}

std::size_t AccountingSessions::size() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

}  // namespace portcullis::radius
