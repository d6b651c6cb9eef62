// Session state the RADIUS server keeps between datagrams:
//  - EapSessions: one EAP conversation per RADIUS State (RFC 2865 §5.24: the NAS echoes
//    the State of our Access-Challenge), idle timeout, bounded size with least-recently-used
//    eviction;
//  - AcceptRecords: what each Access-Accept's Class token (RFC 2865 §5.25) stands for,
//    so accounting can tie a session to a certificate serial (RFC 2866 §5.x carries Class);
//  - AccountingSessions: live sessions by (NAS, Acct-Session-Id) and by serial, for the
//    RFC 5176 Disconnect-/CoA-Requests of radius/dynauth.hpp.
// All three are shared by the io threads: each is guarded by its own mutex.
#pragma once

#include "ca/event.hpp"
#include "ca/records.hpp"
#include "radius/clients.hpp"
#include "radius/conversation_event.hpp"
#include "radius/eap/authenticator.hpp"
#include "radius/packet.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace portcullis::radius {

using SteadyClock = std::chrono::steady_clock;

// One EAP conversation. Its steps run in order under `mutex` (the Authenticator is not
// thread-safe, and a conversation's packets may arrive on different io threads).
//
// Every conversation ends in exactly one decision event: the server emits accept or reject
// and sets `ended`; one that is dropped unfinished emits `abandoned` from its destructor,
// with its first request's facts and what the handshake had learned when the peer went
// silent: reason peer_silent when it was idle past the timeout, session_table_full when
// a bound of the table evicted it to make room for another.
struct Conversation {
  Conversation() = default;
  ~Conversation();
  Conversation(const Conversation&) = delete;
  Conversation& operator=(const Conversation&) = delete;

  std::mutex mutex;
  std::unique_ptr<eap::Authenticator> authenticator;
  std::string state;  // the State we last sent for it; guarded by `mutex`
  SteadyClock::time_point started{};
  SteadyClock::time_point last_step{};
  ca::EventSink* events = nullptr;  // null: no abandoned event (and no facts kept)
  StoredFacts facts;                // its first request's, for the abandoned event
  bool ended = false;               // its outcome was emitted (or it needs none)
  // The bound that evicted it (a setting's name), null while it was not evicted. Set by
  // EapSessions under its own lock, hence atomic.
  std::atomic<const char*> evicted_by{nullptr};
};

// What one open conversation is charged against the memory budget besides its buffers:
// the OpenSSL connection (SSL, its BIOs, handshake hash and key schedule), measured at
// about 49 KiB per server-side TLS handshake in progress.
inline constexpr std::size_t kConversationBaseBytes = 49 * 1024;

struct EapSessionLimits {
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  std::size_t capacity = 10000;           // conversations in all (longest-idle evicted at the bound)
  std::size_t per_nas = 2000;             // conversations one NAS client entry may hold open
  std::size_t memory_budget = 256u << 20; // bytes charged in all (kConversationBaseBytes + buffers each)
};

// A conversation used within this long is never evicted to make room for another: a live
// handshake answers each Challenge within a round trip (milliseconds on a LAN, well under
// a second through a controller and the air), so 2 s spares every conversation that is
// still moving, while a flood must then open a whole NAS's cap of conversations every 2 s
// (1,000/s at the default cap, against 34/s with the 60 s idle timeout) to refuse anyone.
inline constexpr std::chrono::milliseconds kEvictionGrace{2000};

class EapSessions {
 public:
  enum class Admission { admitted, refused_nas_cap, refused_budget };
  struct Insertion {
    Admission admission = Admission::admitted;
    // Longest-idle conversations dropped to make room, by the bound that asked for it.
    std::size_t evicted_capacity = 0;  // the overall bound
    std::size_t evicted_nas_cap = 0;   // the NAS's own cap: one of that NAS's conversations
    std::size_t evicted_budget = 0;    // the memory budget
  };

  explicit EapSessions(EapSessionLimits limits = {});

  // The conversation under `state`, or null (unknown or idle past the timeout).
  std::shared_ptr<Conversation> find(const std::string& state, SteadyClock::time_point now);
  // Stores a new conversation of NAS client `nas` holding `buffered` bytes (buffer
  // capacity). Each bound makes room by dropping the longest-idle conversation it may take:
  // at `per_nas`, that NAS's own (one NAS, or a device flooding through it, never takes
  // room from the others); at the memory budget and the overall bound, anyone's. A flood
  // of half-open handshakes thus cannot lock new devices out: its conversations go idle
  // and make room. Refused only when the candidate was used within kEvictionGrace.
  // The charged total never passes the budget. Each conversation is charged
  // kConversationBaseBytes + its buffers' capacity: at most kConversationBaseBytes + the
  // larger of the reassembly cap (the buffer is reserved at the announced length,
  // RFC 5216 §2.1.5) and our largest TLS flight, as the two are never held together.
  Insertion insert(const std::string& state, std::shared_ptr<Conversation> conversation, const std::string& nas,
                   std::size_t buffered, SteadyClock::time_point now);
  // Moves a conversation from its previous State to the fresh one of the next Challenge,
  // charging it for the `buffered` bytes it holds now. When its grown buffers would take
  // the total past the budget, idle conversations of others make room as for insert();
  // when none may, it is dropped (over_budget): the budget holds for conversations in
  // progress too.
  enum class Rekeyed { kept, gone, over_budget };
  Rekeyed rekey(const std::string& old_state, const std::string& new_state, std::shared_ptr<Conversation> conversation,
             std::size_t buffered, SteadyClock::time_point now, std::size_t* evicted_budget = nullptr);
  void erase(const std::string& state);
  // Drops the conversations idle past the timeout now (they are otherwise dropped lazily,
  // by the next find or insert), so their abandoned events are not late.
  void expire(SteadyClock::time_point now);
  // Drops every conversation, `each` applied to each first (shutdown).
  void clear(const std::function<void(Conversation&)>& each);
  std::size_t size() const;
  std::size_t size_of(const std::string& nas) const;
  std::size_t charged_bytes() const;

 private:
  // `recency` lists States from least to most recently used, so both expiry and eviction
  // take from its front in O(1); `by_nas_` keeps the same order per NAS, for the NAS cap.
  struct Entry {
    std::shared_ptr<Conversation> conversation;
    SteadyClock::time_point last_used;
    std::list<std::string>::iterator recency;
    std::list<std::string>::iterator nas_recency;
    std::string nas;
    std::size_t charge = 0;
  };
  // Conversations taken out of the table under the lock, destroyed after it is released:
  // the last reference frees the TLS connection and may emit an abandoned event, neither
  // of which should hold up the other io threads. Declare before the lock_guard.
  using Dropped = std::vector<std::shared_ptr<Conversation>>;
  void put_locked(const std::string& state, Entry entry, Dropped& dropped);
  void erase_locked(const std::string& state, Dropped& dropped);
  void expire_locked(SteadyClock::time_point now, Dropped& dropped);
  // Drops the first State of `order` (other than `keep`) if it is idle past
  // kEvictionGrace, marked evicted by `bound`; false when there is none.
  bool evict_idle_locked(const std::list<std::string>& order, SteadyClock::time_point now, const std::string& keep,
                         const char* bound, Dropped& dropped);
  // Evicts idle conversations until `charge` more fits the budget; false if it cannot.
  bool make_room_locked(std::size_t charge, SteadyClock::time_point now, const std::string& keep,
                        std::size_t& evicted, Dropped& dropped);

  EapSessionLimits limits_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, std::list<std::string>> by_nas_;
  std::size_t charged_ = 0;
  std::list<std::string> recency_;
};

// A fresh, unpredictable State value (RAND_bytes), as raw octets in a string.
std::string new_state();

// RFC 5176 §3 "NAS identification": the attributes exactly as the NAS sent them in its own
// requests (it matches a Disconnect-Request against them), and the address its requests
// came from, where its Dynamic Authorization Server listens (at the NAS client's coa_port).
struct NasIdentity {
  std::optional<IpAddress> source;
  std::optional<std::array<std::uint8_t, 4>> nas_ip_address;
  std::optional<std::array<std::uint8_t, 16>> nas_ipv6_address;
  std::string nas_identifier;
};
// The NAS identification attributes of a request and its source address.
NasIdentity nas_identity_of(const Packet& request, const IpAddress& source);

struct AcceptRecord {
  std::string serial;  // uppercase hex
  std::string device;
  std::string nas;
  std::string calling_station_id;
  std::string user_name;
  NasIdentity nas_identity;
  // From the policy Decision that accepted the session: what a device disable does to it
  // (a CoA-Request carrying `coa_reply` instead of a Disconnect-Request).
  std::string rule;
  bool coa_on_disable = false;
  std::vector<Attribute> coa_reply;
  ca::UnixTime accepted_at = 0;
  ca::UnixTime ends_at = 0;  // accepted_at + Session-Timeout: the NAS ends it by then at the latest
};

class AcceptRecords {
 public:
  explicit AcceptRecords(std::size_t capacity = 100000);

  // Remembers an Accept; returns the opaque Class token for it
  // ("pc1:" + 32 hex digits + ":" + serial). The serial rides in the token so that
  // accounting after a restart (which forgot the Accepts) still ties a session to its
  // certificate; the NAS echoes Class unchanged (RFC 2865 §5.25) and is authenticated by
  // its shared secret, and a serial is no secret (it is in the certificate).
  std::string remember(AcceptRecord record);
  std::optional<AcceptRecord> by_token(const std::string& token) const;
  // The fallback when a NAS does not echo Class: the latest Accept that NAS got for that
  // Calling-Station-Id (the station the NAS itself saw, RFC 2865 §5.31). Never User-Name:
  // the peer chooses it (an outer EAP identity), so it would let one device's accounting
  // name another device's certificate.
  std::optional<AcceptRecord> by_calling_station(const std::string& nas, const std::string& calling_station_id) const;
  // Accepts of these serials that no accounting session has claimed yet and whose
  // Session-Timeout has not run out: sessions known from the Accept alone.
  std::vector<AcceptRecord> unclaimed_by_serial(const std::string& serial, ca::UnixTime now) const;
  std::vector<AcceptRecord> unclaimed(ca::UnixTime now) const;
  // Accounting found the session of this Accept: from now on it is a LiveSession.
  void claim(const AcceptRecord& record);
  // A Disconnect-ACK (or NAK 503) ended it.
  void forget(const AcceptRecord& record);

 private:
  void erase_locked(const std::string& token);

  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::unordered_map<std::string, AcceptRecord> by_token_;
  std::unordered_map<std::string, std::string> latest_by_station_;  // NAS + '\n' + station -> token
  std::unordered_multimap<std::string, std::string> unclaimed_by_serial_;  // serial -> token
  std::deque<std::string> order_;                                   // tokens, oldest first
};

// The serial a "pc1:<hex>:<serial>" Class token names, or "" for another format.
std::string serial_of_token(const std::string& token);

struct LiveSession {
  std::string nas;
  std::string acct_session_id;
  std::string serial;
  std::string calling_station_id;
  std::string user_name;
  std::string ssid;     // from Called-Station-Id (RFC 3580 §3.20), for display; "" = none
  NasIdentity nas_identity;
  std::string rule;
  bool coa_on_disable = false;
  std::vector<Attribute> coa_reply;
  std::string dynauth;  // last Disconnect/CoA outcome ("Disconnect ACK", "Disconnect NAK 503", "timeout"), "" = none
  ca::UnixTime last_seen = 0;         // the latest accounting record of it
  std::uint32_t interim_interval = 0; // Acct-Interim-Interval it announced (RFC 2869 §5.16), 0 = none
};

// The interim interval a session's deadline counts with, whatever the NAS announces.
// RFC 2869 §5.16 asks for at least 60 s and states no maximum. The ceiling of one day
// keeps one NAS from announcing 0xFFFFFFFF (136 years) so that its sessions never expire
// and are never the nearest to their deadline at the bound; a NAS that reports less than
// daily gives no accounting a revocation could act on anyway.
inline constexpr std::uint32_t kMinInterimInterval = 60;
inline constexpr std::uint32_t kMaxInterimInterval = 86400;

struct LiveSessionLimits {
  std::size_t max_sessions = 100000;
  // A session silent for longer than `stale_intervals` interim intervals is taken as gone
  // (its Stop was lost, or the NAS died without an Accounting-On). Without an
  // Acct-Interim-Interval from the NAS, `default_interim` stands in.
  std::uint32_t stale_intervals = 3;
  std::uint32_t default_interim = 3600;  // seconds
};

// Live sessions by (NAS name, Acct-Session-Id), indexed by certificate serial (a
// revocation of 1,000 certificates looks up each in O(1), not by a scan of every session),
// and bounded: sessions go silent past their deadline expire, and at `max_sessions` one
// nearest its deadline (the longest silent for its interval) makes room — the asking
// NAS's own when it holds its fair share (max_sessions / NASes holding sessions) or more,
// else one of the NAS holding the most. One NAS thus cannot push another's sessions out.
class AccountingSessions {
 public:
  explicit AccountingSessions(LiveSessionLimits limits = {});

  // Inserts or merges: a value the update lacks (empty) keeps the one known. Expires the
  // sessions past their deadline at `session.last_seen` first. Returns the sessions that
  // left the table for it (expired or pushed out), for the caller to close in the ledger.
  std::vector<LiveSession> upsert(LiveSession session);
  // Removes the sessions silent past their deadline at `now`; returns them.
  std::vector<LiveSession> expire(ca::UnixTime now);
  void stop(const std::string& nas, const std::string& acct_session_id);
  // Accounting-On/Off (RFC 2866 §5.1): the NAS restarted, every session it had is gone.
  // Only those whose requests came from `source` when known (one NAS client entry may be a
  // prefix covering several NASes). Returns how many were closed.
  std::size_t stop_nas(const std::string& nas, const std::optional<IpAddress>& source);
  void mark(const std::string& nas, const std::string& acct_session_id, const std::string& outcome);
  std::vector<LiveSession> by_serial(const std::string& serial) const;
  std::vector<LiveSession> all() const;
  std::size_t size() const;

 private:
  using Key = std::pair<std::string, std::string>;
  ca::UnixTime deadline_of(const LiveSession& s) const;
  void erase_locked(std::map<Key, LiveSession>::iterator it);
  void expire_locked(ca::UnixTime now, std::vector<LiveSession>& gone);
  void add_deadline_locked(const Key& key, const LiveSession& s);
  void remove_deadline_locked(const Key& key, const LiveSession& s);
  // The NAS that gives up a session for `asking`'s new one at the bound.
  const std::string& nas_to_evict_from_locked(const std::string& asking) const;

  LiveSessionLimits limits_;
  mutable std::mutex mutex_;
  std::map<Key, LiveSession> live_;
  std::unordered_multimap<std::string, Key> by_serial_;
  std::set<std::pair<ca::UnixTime, Key>> deadlines_;  // soonest first
  // The same per NAS name (deadline, Acct-Session-Id), for the eviction at the bound.
  std::unordered_map<std::string, std::set<std::pair<ca::UnixTime, std::string>>> nas_deadlines_;
};

}  // namespace portcullis::radius
