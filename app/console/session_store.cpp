#include "app/console/session_store.hpp"

#include "ca/base64.hpp"
#include "ca/constant_time.hpp"

#include <algorithm>

namespace portcullis::app::console {

namespace {

ca::Sha256 key_of(std::string_view id) {
  return ca::sha256(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(id.data()), id.size()));
}

std::string random_token() { return ca::base64url_encode(ca::random_bytes(32)); }

}  // namespace

bool SessionStore::expired(const ConsoleSession& s, ca::UnixTime now) const {
  return now - s.last_used >= limits_.idle_seconds || now - s.created >= limits_.absolute_seconds;
}

void SessionStore::make_room(ca::UnixTime now) {
  std::erase_if(sessions_, [&](const auto& entry) { return expired(entry.second, now); });
  while (!sessions_.empty() && sessions_.size() >= limits_.max_sessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    sessions_.erase(oldest);
  }
}

SessionStore::Issued SessionStore::create(std::string actor, ca::UnixTime now) {
  Issued issued;
  issued.id = random_token();
  issued.session = ConsoleSession{std::move(actor), random_token(), now, now};
  std::lock_guard lock(mutex_);
  make_room(now);
  sessions_[key_of(issued.id)] = issued.session;
  return issued;
}

// The map is searched by the id's hash, so lookup timing says nothing usable about the id.
std::optional<ConsoleSession> SessionStore::find(std::string_view id, ca::UnixTime now) {
  if (id.empty()) return std::nullopt;
  const auto key = key_of(id);
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  if (expired(it->second, now)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second;
}

void SessionStore::remove(std::string_view id) {
  const auto key = key_of(id);
  std::lock_guard lock(mutex_);
  sessions_.erase(key);
}

std::size_t SessionStore::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

std::vector<ca::Sha256> SessionStore::keys() const {
  std::lock_guard lock(mutex_);
  std::vector<ca::Sha256> out;
  for (const auto& entry : sessions_) out.push_back(entry.first);
  return out;
}

bool csrf_matches(const ConsoleSession& session, std::string_view header_value) {
  return !session.csrf.empty() && ca::constant_time_equal(std::string_view(session.csrf), header_value);
}

}  // namespace portcullis::app::console
