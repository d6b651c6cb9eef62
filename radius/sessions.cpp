#include "radius/sessions.hpp"

#include "ca/x509.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace portcullis::radius {

EapSessions::EapSessions(EapSessionLimits limits) : limits_(limits) {
  if (limits_.capacity == 0) limits_.capacity = 1;
  if (limits_.per_nas == 0) limits_.per_nas = 1;
}

namespace {

// The bounds that evict, by the setting an operator would raise (configuration.md).
constexpr const char* kBoundNasCap = "max_eap_sessions_per_nas";
constexpr const char* kBoundBudget = "eap_memory_budget_mib";
constexpr const char* kBoundCapacity = "the server's limit of open EAP conversations";

}  // namespace

// Idle entries sit at the front of `recency`: expiry stops at the first live one.
void EapSessions::expire_locked(SteadyClock::time_point now, Dropped& dropped) {
  while (!recency_.empty()) {
    const auto it = entries_.find(recency_.front());
    if (now - it->second.last_used <= limits_.idle_timeout) break;
    erase_locked(recency_.front(), dropped);
  }
}

void EapSessions::put_locked(const std::string& state, Entry entry, Dropped& dropped) {
  erase_locked(state, dropped);
  recency_.push_back(state);
  entry.recency = std::prev(recency_.end());
  auto& of_nas = by_nas_[entry.nas];
  of_nas.push_back(state);
  entry.nas_recency = std::prev(of_nas.end());
  charged_ += entry.charge;
  entries_.emplace(state, std::move(entry));
}

void EapSessions::erase_locked(const std::string& state, Dropped& dropped) {
  const auto it = entries_.find(state);
  if (it == entries_.end()) return;
  recency_.erase(it->second.recency);
  charged_ -= it->second.charge;
  if (auto n = by_nas_.find(it->second.nas); n != by_nas_.end()) {
    n->second.erase(it->second.nas_recency);
    if (n->second.empty()) by_nas_.erase(n);
  }
  dropped.push_back(std::move(it->second.conversation));
  entries_.erase(it);
}

std::shared_ptr<Conversation> EapSessions::find(const std::string& state, SteadyClock::time_point now) {
  Dropped dropped;
  std::lock_guard lock(mutex_);
  expire_locked(now, dropped);
  const auto it = entries_.find(state);
  if (it == entries_.end()) return nullptr;
  it->second.last_used = now;
  recency_.splice(recency_.end(), recency_, it->second.recency);
  auto& of_nas = by_nas_.at(it->second.nas);
  of_nas.splice(of_nas.end(), of_nas, it->second.nas_recency);
  return it->second.conversation;
}

bool EapSessions::evict_idle_locked(const std::list<std::string>& order, SteadyClock::time_point now,
                                    const std::string& keep, const char* bound, Dropped& dropped) {
  auto victim = order.begin();
  if (victim != order.end() && *victim == keep) ++victim;
  if (victim == order.end()) return false;
  const Entry& entry = entries_.at(*victim);
  if (now - entry.last_used < kEvictionGrace) return false;
  entry.conversation->evicted_by.store(bound, std::memory_order_relaxed);
  erase_locked(std::string(*victim), dropped);
  return true;
}

bool EapSessions::make_room_locked(std::size_t charge, SteadyClock::time_point now, const std::string& keep,
                                   std::size_t& evicted, Dropped& dropped) {
  while (charged_ + charge > limits_.memory_budget) {
    if (!evict_idle_locked(recency_, now, keep, kBoundBudget, dropped)) return false;
    ++evicted;
  }
  return true;
}

EapSessions::Insertion EapSessions::insert(const std::string& state, std::shared_ptr<Conversation> conversation,
                                           const std::string& nas, std::size_t buffered,
                                           SteadyClock::time_point now) {
  Dropped dropped;
  std::lock_guard lock(mutex_);
  expire_locked(now, dropped);
  Insertion result;
  if (const auto n = by_nas_.find(nas); n != by_nas_.end() && n->second.size() >= limits_.per_nas) {
    if (!evict_idle_locked(n->second, now, state, kBoundNasCap, dropped)) {
      result.admission = Admission::refused_nas_cap;
      return result;
    }
    ++result.evicted_nas_cap;
  }
  const std::size_t charge = kConversationBaseBytes + buffered;
  if (!make_room_locked(charge, now, state, result.evicted_budget, dropped)) {
    result.admission = Admission::refused_budget;
    return result;
  }
  // The overall bound evicts whatever is longest idle, as it always may: at this bound
  // the table is full of conversations the budget and the NAS caps let in.
  if (entries_.size() >= limits_.capacity && !entries_.count(state)) {
    entries_.at(recency_.front()).conversation->evicted_by.store(kBoundCapacity, std::memory_order_relaxed);
    erase_locked(std::string(recency_.front()), dropped);
    ++result.evicted_capacity;
  }
  put_locked(state, Entry{std::move(conversation), now, {}, {}, nas, charge}, dropped);
  return result;
}

EapSessions::Rekeyed EapSessions::rekey(const std::string& old_state, const std::string& new_state,
                        std::shared_ptr<Conversation> conversation, std::size_t buffered,
                        SteadyClock::time_point now, std::size_t* evicted_budget) {
  Dropped dropped;
  std::lock_guard lock(mutex_);
  const auto old = entries_.find(old_state);
  // Gone meanwhile (evicted, or expired by another thread): it keeps no NAS slot.
  if (old == entries_.end()) return Rekeyed::gone;
  std::string nas = old->second.nas;
  const std::size_t charge = kConversationBaseBytes + buffered;
  std::size_t evicted = 0;
  // Its present charge is given back first: only the growth has to fit.
  const std::size_t present = old->second.charge;
  charged_ -= present;
  const bool fits = make_room_locked(charge, now, old_state, evicted, dropped);
  charged_ += present;
  if (evicted_budget != nullptr) *evicted_budget = evicted;
  erase_locked(old_state, dropped);
  if (!fits) return Rekeyed::over_budget;
  put_locked(new_state, Entry{std::move(conversation), now, {}, {}, std::move(nas), charge}, dropped);
  return Rekeyed::kept;
}

void EapSessions::erase(const std::string& state) {
  Dropped dropped;
  std::lock_guard lock(mutex_);
  erase_locked(state, dropped);
}

void EapSessions::expire(SteadyClock::time_point now) {
  Dropped dropped;
  std::lock_guard lock(mutex_);
  expire_locked(now, dropped);
}

void EapSessions::clear(const std::function<void(Conversation&)>& each) {
  Dropped dropped;
  std::lock_guard lock(mutex_);
  dropped.reserve(entries_.size());
  for (auto& [state, entry] : entries_) {
    each(*entry.conversation);
    dropped.push_back(std::move(entry.conversation));
  }
  entries_.clear();
  by_nas_.clear();
  recency_.clear();
  charged_ = 0;
}

Conversation::~Conversation() {
  if (ended || events == nullptr) return;
  try {
    const eap::TlsPeer* peer = authenticator ? authenticator->peer() : nullptr;
    ca::Event event = conversation_event(facts.view(), peer, authenticator ? authenticator->tls_version() : "");
    event.outcome = "abandoned";
    const std::string where = std::string(authenticator ? eap::to_string(authenticator->state()) : "?") + " after " +
                              std::to_string(authenticator ? authenticator->requests_sent() : 0) + " request(s)";
    if (const char* bound = evicted_by.load(std::memory_order_relaxed)) {
      event.reason = "session_table_full";
      event.detail = "the peer had stopped answering in EAP state " + where +
                     " and the conversation was dropped to make room for another (" + bound + ")";
    } else {
      event.reason = "peer_silent";
      event.detail = "the peer stopped answering in EAP state " + where;
    }
    event.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(last_step - started).count();
    events->emit(std::move(event));
  } catch (...) {
    // Out of memory building the event: the conversation still goes; its event is lost.
  }
}

std::size_t EapSessions::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::size_t EapSessions::size_of(const std::string& nas) const {
  std::lock_guard lock(mutex_);
  const auto it = by_nas_.find(nas);
  return it == by_nas_.end() ? 0 : it->second.size();
}

std::size_t EapSessions::charged_bytes() const {
  std::lock_guard lock(mutex_);
  return charged_;
}

namespace {

// Two to four State/Class values are drawn per conversation. OpenSSL 3's RAND_bytes costs
// thousands of instructions per call whatever the length (DRBG lookup, locking, generator
// set-up), so each thread draws 1 KiB at a time and hands it out 16 octets at a time, the
// same CSPRNG output (RFC 2865 §5.24: unpredictable). Octets are wiped as they are handed
// out: the pool never keeps a value that is in use. The service never forks, so no two
// processes can share a pool.
struct StatePool {
  std::array<unsigned char, 1024> bytes{};
  std::size_t next = bytes.size();
  StatePool() = default;
  StatePool(const StatePool&) = delete;
  StatePool& operator=(const StatePool&) = delete;
  ~StatePool() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

}  // namespace

std::string new_state() {
  constexpr std::size_t kStateSize = 16;
  thread_local StatePool pool;
  if (pool.next + kStateSize > pool.bytes.size()) {
    if (RAND_bytes(pool.bytes.data(), static_cast<int>(pool.bytes.size())) != 1)
      throw std::runtime_error("RAND_bytes failed");
    pool.next = 0;
  }
  std::string state(reinterpret_cast<const char*>(pool.bytes.data() + pool.next), kStateSize);
  OPENSSL_cleanse(pool.bytes.data() + pool.next, kStateSize);
  pool.next += kStateSize;
  return state;
}

NasIdentity nas_identity_of(const Packet& request, const IpAddress& source) {
  NasIdentity id;
  id.source = source;
  if (const Attribute* a = request.find(attr::NasIpAddress); a != nullptr && a->value.size() == 4) {
    id.nas_ip_address.emplace();
    std::copy(a->value.begin(), a->value.end(), id.nas_ip_address->begin());
  }
  if (const Attribute* a = request.find(attr::NasIpv6Address); a != nullptr && a->value.size() == 16) {
    id.nas_ipv6_address.emplace();
    std::copy(a->value.begin(), a->value.end(), id.nas_ipv6_address->begin());
  }
  if (const Attribute* a = request.find(attr::NasIdentifier); a != nullptr)
    id.nas_identifier.assign(a->value.begin(), a->value.end());
  return id;
}

std::string serial_of_token(const std::string& token) {
  // "pc1:" + 32 hex + ":" + serial
  constexpr std::size_t kPrefix = 4 + 32 + 1;
  if (token.size() <= kPrefix || token.rfind("pc1:", 0) != 0 || token[kPrefix - 1] != ':') return {};
  std::string serial = token.substr(kPrefix);
  for (char c : serial)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
  return serial;
}

AcceptRecords::AcceptRecords(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

namespace {
std::string station_key(const std::string& nas, const std::string& calling_station_id) {
  return nas + '\n' + calling_station_id;
}
}  // namespace

void AcceptRecords::erase_locked(const std::string& token) {
  auto old = by_token_.find(token);
  if (old == by_token_.end()) return;
  if (auto s = latest_by_station_.find(station_key(old->second.nas, old->second.calling_station_id));
      s != latest_by_station_.end() && s->second == old->first)
    latest_by_station_.erase(s);
  auto [b, e] = unclaimed_by_serial_.equal_range(old->second.serial);
  for (auto it = b; it != e; ++it)
    if (it->second == token) {
      unclaimed_by_serial_.erase(it);
      break;
    }
  by_token_.erase(old);
}

std::string AcceptRecords::remember(AcceptRecord record) {
  const std::string raw = new_state();
  const std::string token = "pc1:" + ca::to_hex(ca::Bytes(raw.begin(), raw.end())) + ":" + record.serial;
  std::lock_guard lock(mutex_);
  if (!record.calling_station_id.empty()) latest_by_station_[station_key(record.nas, record.calling_station_id)] = token;
  unclaimed_by_serial_.emplace(record.serial, token);
  by_token_.emplace(token, std::move(record));
  order_.push_back(token);
  while (order_.size() > capacity_) {
    erase_locked(order_.front());
    order_.pop_front();
  }
  return token;
}

std::optional<AcceptRecord> AcceptRecords::by_token(const std::string& token) const {
  std::lock_guard lock(mutex_);
  auto it = by_token_.find(token);
  if (it != by_token_.end()) return it->second;
  // An Accept from before a restart (or pushed out by the bound): the token still names
  // the certificate.
  std::string serial = serial_of_token(token);
  if (serial.empty()) return std::nullopt;
  AcceptRecord r;
  r.serial = std::move(serial);
  return r;
}

std::optional<AcceptRecord> AcceptRecords::by_calling_station(const std::string& nas,
                                                              const std::string& calling_station_id) const {
  std::lock_guard lock(mutex_);
  auto it = latest_by_station_.find(station_key(nas, calling_station_id));
  if (it == latest_by_station_.end()) return std::nullopt;
  return by_token_.at(it->second);
}

std::vector<AcceptRecord> AcceptRecords::unclaimed_by_serial(const std::string& serial, ca::UnixTime now) const {
  std::lock_guard lock(mutex_);
  std::vector<AcceptRecord> out;
  auto [b, e] = unclaimed_by_serial_.equal_range(serial);
  for (auto it = b; it != e; ++it) {
    const AcceptRecord& r = by_token_.at(it->second);
    if (r.ends_at == 0 || r.ends_at > now) out.push_back(r);
  }
  return out;
}

std::vector<AcceptRecord> AcceptRecords::unclaimed(ca::UnixTime now) const {
  std::lock_guard lock(mutex_);
  std::vector<AcceptRecord> out;
  for (const auto& [serial, token] : unclaimed_by_serial_) {
    const AcceptRecord& r = by_token_.at(token);
    if (r.ends_at == 0 || r.ends_at > now) out.push_back(r);
  }
  return out;
}

void AcceptRecords::claim(const AcceptRecord& record) {
  std::lock_guard lock(mutex_);
  auto [b, e] = unclaimed_by_serial_.equal_range(record.serial);
  for (auto it = b; it != e; ++it) {
    const AcceptRecord& r = by_token_.at(it->second);
    if (r.nas == record.nas && r.calling_station_id == record.calling_station_id && r.user_name == record.user_name &&
        r.accepted_at == record.accepted_at) {
      unclaimed_by_serial_.erase(it);
      return;
    }
  }
}

void AcceptRecords::forget(const AcceptRecord& record) { claim(record); }

AccountingSessions::AccountingSessions(LiveSessionLimits limits) : limits_(limits) {
  if (limits_.max_sessions == 0) limits_.max_sessions = 1;
  if (limits_.stale_intervals == 0) limits_.stale_intervals = 1;
  if (limits_.default_interim == 0) limits_.default_interim = 1;
}

ca::UnixTime AccountingSessions::deadline_of(const LiveSession& s) const {
  const std::uint32_t interval = std::clamp(s.interim_interval != 0 ? s.interim_interval : limits_.default_interim,
                                            kMinInterimInterval, kMaxInterimInterval);
  return s.last_seen + static_cast<ca::UnixTime>(limits_.stale_intervals) * interval;
}

void AccountingSessions::add_deadline_locked(const Key& key, const LiveSession& s) {
  const ca::UnixTime deadline = deadline_of(s);
  deadlines_.emplace(deadline, key);
  nas_deadlines_[key.first].emplace(deadline, key.second);
}

void AccountingSessions::remove_deadline_locked(const Key& key, const LiveSession& s) {
  const ca::UnixTime deadline = deadline_of(s);
  deadlines_.erase({deadline, key});
  if (auto n = nas_deadlines_.find(key.first); n != nas_deadlines_.end()) {
    n->second.erase({deadline, key.second});
    if (n->second.empty()) nas_deadlines_.erase(n);
  }
}

// A fair share is the bound divided among the NASes holding sessions (the asking one
// included). A NAS at or above it pays for its own new session; one below it takes from
// the NAS holding the most, which then holds more than its share. Within a NAS, the
// session nearest its deadline goes, as the one most likely ended without its Stop.
const std::string& AccountingSessions::nas_to_evict_from_locked(const std::string& asking) const {
  const auto own = nas_deadlines_.find(asking);
  const std::size_t held = own == nas_deadlines_.end() ? 0 : own->second.size();
  const std::size_t holders = nas_deadlines_.size() + (held == 0 ? 1 : 0);
  if (held > 0 && held >= limits_.max_sessions / holders) return asking;
  auto largest = nas_deadlines_.begin();
  for (auto it = nas_deadlines_.begin(); it != nas_deadlines_.end(); ++it)
    if (it->second.size() > largest->second.size()) largest = it;
  return largest->first;
}

void AccountingSessions::expire_locked(ca::UnixTime now, std::vector<LiveSession>& gone) {
  while (!deadlines_.empty() && deadlines_.begin()->first < now) {
    auto it = live_.find(deadlines_.begin()->second);
    gone.push_back(it->second);
    erase_locked(it);
  }
}

std::vector<LiveSession> AccountingSessions::expire(ca::UnixTime now) {
  std::lock_guard lock(mutex_);
  std::vector<LiveSession> gone;
  expire_locked(now, gone);
  return gone;
}

std::vector<LiveSession> AccountingSessions::upsert(LiveSession session) {
  std::lock_guard lock(mutex_);
  std::vector<LiveSession> gone;
  expire_locked(session.last_seen, gone);
  Key key{session.nas, session.acct_session_id};
  auto it = live_.find(key);
  if (it == live_.end()) {
    if (live_.size() >= limits_.max_sessions) {
      const std::string& nas = nas_to_evict_from_locked(session.nas);
      auto victim = live_.find({nas, nas_deadlines_.at(nas).begin()->second});
      gone.push_back(victim->second);
      erase_locked(victim);
    }
    if (!session.serial.empty()) by_serial_.emplace(session.serial, key);
    add_deadline_locked(key, session);
    live_.emplace(std::move(key), std::move(session));
    return gone;
  }
  LiveSession& known = it->second;
  remove_deadline_locked(key, known);
  if (!session.serial.empty() && session.serial != known.serial) {
    auto [b, e] = by_serial_.equal_range(known.serial);
    for (auto s = b; s != e; ++s)
      if (s->second == key) {
        by_serial_.erase(s);
        break;
      }
    known.serial = session.serial;
    by_serial_.emplace(known.serial, key);
  }
  if (!session.calling_station_id.empty()) known.calling_station_id = std::move(session.calling_station_id);
  if (!session.user_name.empty()) known.user_name = std::move(session.user_name);
  if (!session.ssid.empty()) known.ssid = std::move(session.ssid);
  if (session.nas_identity.source) known.nas_identity.source = session.nas_identity.source;
  if (session.nas_identity.nas_ip_address) known.nas_identity.nas_ip_address = session.nas_identity.nas_ip_address;
  if (session.nas_identity.nas_ipv6_address) known.nas_identity.nas_ipv6_address = session.nas_identity.nas_ipv6_address;
  if (!session.nas_identity.nas_identifier.empty()) known.nas_identity.nas_identifier = session.nas_identity.nas_identifier;
  if (!session.rule.empty()) {
    known.rule = std::move(session.rule);
    known.coa_on_disable = session.coa_on_disable;
    known.coa_reply = std::move(session.coa_reply);
  }
  known.last_seen = std::max(known.last_seen, session.last_seen);
  if (session.interim_interval != 0) known.interim_interval = session.interim_interval;
  add_deadline_locked(key, known);
  return gone;
}

void AccountingSessions::erase_locked(std::map<Key, LiveSession>::iterator it) {
  remove_deadline_locked(it->first, it->second);
  auto [b, e] = by_serial_.equal_range(it->second.serial);
  for (auto s = b; s != e; ++s)
    if (s->second == it->first) {
      by_serial_.erase(s);
      break;
    }
  live_.erase(it);
}

void AccountingSessions::stop(const std::string& nas, const std::string& acct_session_id) {
  std::lock_guard lock(mutex_);
  auto it = live_.find({nas, acct_session_id});
  if (it != live_.end()) erase_locked(it);
}

std::size_t AccountingSessions::stop_nas(const std::string& nas, const std::optional<IpAddress>& source) {
  std::lock_guard lock(mutex_);
  std::size_t closed = 0;
  for (auto it = live_.lower_bound({nas, std::string()}); it != live_.end() && it->first.first == nas;) {
    const auto& s = it->second.nas_identity.source;
    if (source && s && *s != *source) {
      ++it;
      continue;
    }
    auto next = std::next(it);
    erase_locked(it);
    it = next;
    ++closed;
  }
  return closed;
}

void AccountingSessions::mark(const std::string& nas, const std::string& acct_session_id, const std::string& outcome) {
  std::lock_guard lock(mutex_);
  auto it = live_.find({nas, acct_session_id});
  if (it != live_.end()) it->second.dynauth = outcome;
}

std::vector<LiveSession> AccountingSessions::by_serial(const std::string& serial) const {
  std::lock_guard lock(mutex_);
  std::vector<LiveSession> out;
  auto [b, e] = by_serial_.equal_range(serial);
  for (auto it = b; it != e; ++it) out.push_back(live_.at(it->second));
  return out;
}

std::vector<LiveSession> AccountingSessions::all() const {
  std::lock_guard lock(mutex_);
  std::vector<LiveSession> out;
  out.reserve(live_.size());
  for (const auto& [key, s] : live_) out.push_back(s);
  return out;
}

std::size_t AccountingSessions::size() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

}  // namespace portcullis::radius
