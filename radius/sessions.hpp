// Session state the RADIUS server keeps between datagrams:
//  - EapSessions: one EAP conversation per RADIUS State (RFC 2865 §5.24: the NAS echoes
//    the State of our Access-Challenge), idle timeout, bounded size with least-recently-used
//    eviction;
//  - AcceptRecords: what each Access-Accept's Class token (RFC 2865 §5.25) stands for,
//    so accounting can tie a session to a certificate serial (RFC 2866 §5.x carries Class);
//  - AccountingSessions: live sessions by (NAS, Acct-Session-Id), for Disconnect later.
// All three are shared by the io threads: each is guarded by its own mutex.
#pragma once

#include "radius/eap/authenticator.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace portcullis::radius {

using SteadyClock = std::chrono::steady_clock;

// One EAP conversation. Its steps run in order under `mutex` (the Authenticator is not
// thread-safe, and a conversation's packets may arrive on different io threads).
struct Conversation {
  std::mutex mutex;
  std::unique_ptr<eap::Authenticator> authenticator;
  std::string state;  // the State we last sent for it; guarded by `mutex`
  SteadyClock::time_point started{};
};

class EapSessions {
 public:
  explicit EapSessions(std::chrono::milliseconds idle_timeout = std::chrono::seconds(60),
                       std::size_t capacity = 10000);

  // The conversation under `state`, or null (unknown or idle past the timeout).
  std::shared_ptr<Conversation> find(const std::string& state, SteadyClock::time_point now);
  // Stores a new conversation. At the bound, the longest-idle conversation is dropped to
  // make room (returns true then): a flood of half-open handshakes must not lock every new
  // device out until the flood idles away, and a real conversation is never idle for long
  // (each round trip takes milliseconds).
  bool insert(const std::string& state, std::shared_ptr<Conversation> conversation, SteadyClock::time_point now);
  // Moves a conversation from its previous State to the fresh one of the next Challenge.
  void rekey(const std::string& old_state, const std::string& new_state, std::shared_ptr<Conversation> conversation,
             SteadyClock::time_point now);
  void erase(const std::string& state);
  std::size_t size() const;

 private:
  // `recency` lists States from least to most recently used, so both expiry and eviction
  // take from its front in O(1).
  struct Entry {
    std::shared_ptr<Conversation> conversation;
    SteadyClock::time_point last_used;
    std::list<std::string>::iterator recency;
  };
  void put_locked(const std::string& state, std::shared_ptr<Conversation> conversation, SteadyClock::time_point now);
  void erase_locked(const std::string& state);
  void expire_locked(SteadyClock::time_point now);

  std::chrono::milliseconds idle_timeout_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> recency_;
};

// A fresh, unpredictable State value (RAND_bytes), as raw octets in a string.
std::string new_state();

struct AcceptRecord {
  std::string serial;  // uppercase hex
  std::string device;
  std::string nas;
  std::string calling_station_id;
  std::string user_name;
};

class AcceptRecords {
 public:
  explicit AcceptRecords(std::size_t capacity = 100000);

  // Remembers an Accept; returns the opaque Class token for it ("pc1:" + 32 hex digits).
  std::string remember(AcceptRecord record);
  std::optional<AcceptRecord> by_token(const std::string& token) const;
  // Fallbacks when a NAS does not echo Class: the latest Accept for that value.
  std::optional<AcceptRecord> by_calling_station(const std::string& calling_station_id) const;
  std::optional<AcceptRecord> by_user_name(const std::string& user_name) const;

 private:
  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::unordered_map<std::string, AcceptRecord> by_token_;
  std::unordered_map<std::string, std::string> latest_by_station_;  // -> token
  std::unordered_map<std::string, std::string> latest_by_user_;     // -> token
  std::deque<std::string> order_;                                   // tokens, oldest first
};

struct LiveSession {
  std::string nas;
  std::string acct_session_id;
  std::string serial;
  std::string calling_station_id;
};

class AccountingSessions {
 public:
  void upsert(LiveSession session);
  void stop(const std::string& nas, const std::string& acct_session_id);
  std::vector<LiveSession> by_serial(const std::string& serial) const;
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, LiveSession> live_;
};

}  // namespace portcullis::radius
