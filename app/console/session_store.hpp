// Console sign-in sessions: a random 256-bit id in an HttpOnly cookie, of which only the
// SHA-256 is kept, so a dump of the store (or of memory) does not hand out live cookies.
// Each session carries the audit actor of the token that opened it and a CSRF token the
// page echoes in X-CSRF-Token on every state-changing request (OWASP "synchroniser token").
// No I/O: the caller passes the time, so expiry is tested without waiting.
#pragma once

#include "ca/records.hpp"
#include "ca/x509.hpp"

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::app::console {

struct SessionLimits {
  std::int64_t idle_seconds = 30 * 60;           // unused this long: signed out
  std::int64_t absolute_seconds = 12 * 60 * 60;  // however busy: signed out this long after sign-in
  std::size_t max_sessions = 10'000;             // beyond: the least recently used one goes
};

struct ConsoleSession {
  std::string actor;  // "api:<token name>", the audit actor as for a bearer token
  std::string csrf;   // base64url of 32 random bytes
  ca::UnixTime created = 0;
  ca::UnixTime last_used = 0;
};

class SessionStore {
 public:
  explicit SessionStore(SessionLimits limits = {}) : limits_(limits) {}

  struct Issued {
    std::string id;  // the cookie value: base64url of 32 random bytes; never stored
    ConsoleSession session;
  };
  Issued create(std::string actor, ca::UnixTime now);
  // The live session for a cookie value (its last use becomes `now`); nullopt for an unknown,
  // idle-expired or too old one (which is dropped).
  std::optional<ConsoleSession> find(std::string_view id, ca::UnixTime now);
  void remove(std::string_view id);

  std::size_t size() const;
  // The stored keys (SHA-256 of each id), for inspection: the ids themselves are not kept.
  std::vector<ca::Sha256> keys() const;

 private:
  bool expired(const ConsoleSession& s, ca::UnixTime now) const;
  void make_room(ca::UnixTime now);  // caller holds mutex_

  SessionLimits limits_;
  mutable std::mutex mutex_;
  std::map<ca::Sha256, ConsoleSession> sessions_;
};

// The X-CSRF-Token header against the session's token, in constant time.
bool csrf_matches(const ConsoleSession& session, std::string_view header_value);

}  // namespace portcullis::app::console
