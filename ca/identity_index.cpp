// The in-memory identity/revocation index. Layout, chosen for 10^6 certificates:
//  - one vector of 88-byte POD entries (serial and fingerprint inline, times, device id,
//    revocation state, the profile as a 16-bit interned id), so there is no per-entry
//    heap allocation;
//  - two open-addressing tables (linear probing) of 32-bit positions into that vector,
//    one keyed by serial and one by fingerprint; the key lives in the entry, so a table
//    costs 4 bytes a slot, at most 75% full;
//  - devices in a hash map id -> {enabled, name, groups}: few compared with certificates.
// Readers take a shared lock; writers an exclusive one, and a writer mutex also orders
// writers against load() so that nothing applied during a reload is lost.
#include "ca/identity_index.hpp"

#include "ca/hex.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/serial_text.hpp"

#include <openssl/x509_vfy.h>

#include <algorithm>
#include <array>
#include <optional>
#include <span>
#include <cstring>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace portcullis::ca {

int x509_verify_error(IdentityVerdict verdict) {
  switch (verdict) {
    case IdentityVerdict::revoked: return X509_V_ERR_CERT_REVOKED;
    case IdentityVerdict::expired: return X509_V_ERR_CERT_HAS_EXPIRED;
    case IdentityVerdict::not_yet_valid: return X509_V_ERR_CERT_NOT_YET_VALID;
    default: return X509_V_ERR_CERT_REJECTED;
  }
}

const char* to_string(IdentityVerdict verdict) {
  switch (verdict) {
    case IdentityVerdict::good: return "good";
    case IdentityVerdict::unknown: return "unknown";
    case IdentityVerdict::not_yet_valid: return "not_yet_valid";
    case IdentityVerdict::expired: return "expired";
    case IdentityVerdict::revoked: return "revoked";
    case IdentityVerdict::device_disabled: return "device_disabled";
  }
  return "unknown";
}

namespace {

using detail::kFingerprintOctets;
using detail::kMaxSerialOctets;
using Key = std::span<const std::uint8_t>;

// RFC 5280 reason codes stop at 10, so one octet holds both "revoked?" and the reason.
constexpr std::uint8_t kNotRevoked = 0xFF;

struct Entry {
  std::int64_t device_id = 0;
  UnixTime not_before = 0;
  UnixTime not_after = 0;
  UnixTime revoked_at = 0;
  std::array<std::uint8_t, kFingerprintOctets> fingerprint{};
  std::array<std::uint8_t, kMaxSerialOctets> serial{};
  std::uint8_t serial_len = 0;
  std::uint8_t reason = kNotRevoked;  // a RevocationReason once revoked
  std::uint16_t profile = 0;

  bool revoked() const { return reason != kNotRevoked; }
};
static_assert(sizeof(Entry) <= 88, "keep the per-certificate footprint small");

Key serial_key(const Entry& e) { return {e.serial.data(), e.serial_len}; }
Key fingerprint_key(const Entry& e) { return {e.fingerprint.data(), e.fingerprint.size()}; }

// splitmix64's finaliser: a full-avalanche 64-bit mix.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

// Hashes every octet: serials from our CSPRNG are uniform, but an imported CA's may be
// sequential and differ only in their last octets.
std::uint64_t hash_key(Key key) {
  std::uint64_t h = 0x9E3779B97F4A7C15ULL * (key.size() + 1);
  for (std::size_t i = 0; i < key.size(); i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, key.data() + i, std::min<std::size_t>(8, key.size() - i));
    h = mix(h ^ word);
  }
  return h;
}

bool same_key(Key a, Key b) { return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0; }

// Linear-probing table of positions (+1; 0 marks an empty slot) into the entry vector.
class PositionTable {
 public:
  using KeyOf = Key (*)(const Entry&);
  explicit PositionTable(KeyOf key_of) : key_of_(key_of) {}

  void reserve(std::size_t n, const std::vector<Entry>& entries) {
    std::size_t capacity = 16;
    while (capacity * 3 < n * 4) capacity *= 2;
    if (capacity > slots_.size()) rehash(capacity, entries);
  }

  std::optional<std::uint32_t> find(Key key, const std::vector<Entry>& entries) const {
    if (size_ == 0) return std::nullopt;
    for (std::size_t i = hash_key(key) & mask_;; i = (i + 1) & mask_) {
      const std::uint32_t slot = slots_[i];
      if (slot == 0) return std::nullopt;
      if (same_key(key_of_(entries[slot - 1]), key)) return slot - 1;
    }
  }

  // `position`'s key must not be in the table yet.
  void insert(std::uint32_t position, const std::vector<Entry>& entries) {
    if ((size_ + 1) * 4 > slots_.size() * 3) rehash(std::max<std::size_t>(16, slots_.size() * 2), entries);
    place(position, entries);
    ++size_;
  }

  void erase(Key key, const std::vector<Entry>& entries) {
    if (size_ == 0) return;
    std::size_t hole = hash_key(key) & mask_;
    for (;; hole = (hole + 1) & mask_) {
      if (slots_[hole] == 0) return;
      if (same_key(key_of_(entries[slots_[hole] - 1]), key)) break;
    }
    // Backward-shift deletion: move later members of the probe run into the hole when
    // their home slot allows it, so lookups never need tombstones.
    for (std::size_t j = (hole + 1) & mask_; slots_[j] != 0; j = (j + 1) & mask_) {
      const std::size_t home = hash_key(key_of_(entries[slots_[j] - 1])) & mask_;
      const bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = 0;
    --size_;
  }

  std::size_t bytes() const { return slots_.capacity() * sizeof(std::uint32_t); }

 private:
  void place(std::uint32_t position, const std::vector<Entry>& entries) {
    std::size_t i = hash_key(key_of_(entries[position])) & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = position + 1;
  }

  void rehash(std::size_t capacity, const std::vector<Entry>& entries) {
    std::vector<std::uint32_t> old(capacity, 0);
    old.swap(slots_);
    mask_ = capacity - 1;
    for (std::uint32_t slot : old) {
      if (slot != 0) place(slot - 1, entries);
    }
  }

  KeyOf key_of_;
  std::vector<std::uint32_t> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

struct DeviceInfo {
  bool enabled = true;
  std::string name;
  std::vector<std::string> groups;  // for policy rules; usually none or a few short tags
};

struct Data {
  std::vector<Entry> entries;
  PositionTable by_serial{serial_key};
  PositionTable by_fingerprint{fingerprint_key};
  std::unordered_map<std::int64_t, DeviceInfo> devices;
  std::vector<std::string> profiles;
  std::unordered_map<std::string, std::uint16_t> profile_ids;

  std::uint16_t intern(const std::string& profile) {
    if (auto it = profile_ids.find(profile); it != profile_ids.end()) return it->second;
    if (profiles.size() > std::numeric_limits<std::uint16_t>::max()) throw std::length_error("index: too many profiles");
    const auto id = static_cast<std::uint16_t>(profiles.size());
    profiles.push_back(profile);
    profile_ids.emplace(profile, id);
    return id;
  }

  // Inserts or replaces the certificate with this serial, keeping a revocation it holds.
  void put(const CertificateRecord& record) {
    const auto serial = detail::canonical_serial_hex(record.serial_hex);
    Entry e;
    if (!serial || !from_hex(*serial, std::span(e.serial.data(), serial->size() / 2)) ||
        !from_hex(record.sha256_fingerprint, e.fingerprint)) {
      throw std::invalid_argument("index: certificate '" + record.serial_hex +
                                  "' needs a hex serial of 1 to 20 octets and a SHA-256 fingerprint");
    }
    e.serial_len = static_cast<std::uint8_t>(serial->size() / 2);
    e.device_id = record.device_id;
    e.not_before = record.not_before;
    e.not_after = record.not_after;
    e.revoked_at = record.revoked ? record.revoked_at : 0;
    e.reason = record.revoked ? static_cast<std::uint8_t>(record.revocation_reason) : kNotRevoked;
    e.profile = intern(record.profile);

    const auto at = by_serial.find(serial_key(e), entries);
    // Another certificate holding this fingerprint loses the mapping; cannot happen with
    // ledger data (the column is UNIQUE), but the table must never hold a key twice.
    if (const auto holder = by_fingerprint.find(fingerprint_key(e), entries); holder && holder != at) {
      by_fingerprint.erase(fingerprint_key(e), entries);
    }
    if (at) {
      // A revocation is final (no path in the CA lifts one, RFC 5280 §5.3.1's removeFromCRL
      // included), so an older record read before it committed never clears it.
      if (entries[*at].revoked() && !e.revoked()) {
        e.revoked_at = entries[*at].revoked_at;
        e.reason = entries[*at].reason;
      }
      by_fingerprint.erase(fingerprint_key(entries[*at]), entries);
      entries[*at] = e;
      by_fingerprint.insert(*at, entries);
      return;
    }
    if (entries.size() >= std::numeric_limits<std::uint32_t>::max()) throw std::length_error("index: too many certificates");
    const auto position = static_cast<std::uint32_t>(entries.size());
    entries.push_back(e);
    by_serial.insert(position, entries);
    by_fingerprint.insert(position, entries);
  }

  Identity describe(const Entry& e, UnixTime now) const {
    Identity id;
    id.device_id = e.device_id;
    id.profile = profiles[e.profile];
    id.not_before = e.not_before;
    id.not_after = e.not_after;
    const auto device = devices.find(e.device_id);
    if (device != devices.end()) {
      id.device_name = device->second.name;
      id.device_groups = device->second.groups;
    }
    if (e.revoked()) {
      id.verdict = IdentityVerdict::revoked;
      id.revoked_at = e.revoked_at;
      id.revocation_reason = static_cast<RevocationReason>(e.reason);
    } else if (now < e.not_before) {
      id.verdict = IdentityVerdict::not_yet_valid;
    } else if (now > e.not_after) {  // notAfter is inclusive, RFC 5280 §4.1.2.5
      id.verdict = IdentityVerdict::expired;
    } else if (device == devices.end() || !device->second.enabled) {
      // A device we have never heard of is treated as disabled: fail closed.
      id.verdict = IdentityVerdict::device_disabled;
    } else {
      id.verdict = IdentityVerdict::good;
    }
    return id;
  }

  std::size_t bytes() const {
    // libstdc++ hash nodes: the value plus a next pointer (and a cached hash for strings).
    std::size_t device_bytes = devices.bucket_count() * sizeof(void*);
    for (const auto& [id, info] : devices) {
      device_bytes += sizeof(std::pair<const std::int64_t, DeviceInfo>) + sizeof(void*);
      if (info.name.capacity() > 15) device_bytes += info.name.capacity() + 1;  // beyond the SSO buffer
      device_bytes += info.groups.capacity() * sizeof(std::string);
      for (const auto& g : info.groups)
        if (g.capacity() > 15) device_bytes += g.capacity() + 1;
    }
    std::size_t profile_bytes = profiles.capacity() * sizeof(std::string) + profile_ids.bucket_count() * sizeof(void*);
    for (const auto& p : profiles) profile_bytes += 2 * (p.capacity() + 1) + sizeof(std::string) + 2 * sizeof(void*);
    return sizeof(Data) + entries.capacity() * sizeof(Entry) + by_serial.bytes() + by_fingerprint.bytes() +
           device_bytes + profile_bytes;
  }
};

// Strips leading zero octets: DER INTEGER contents carry one for a set high bit.
Key magnitude(Key serial) {
  std::size_t skip = 0;
  while (skip < serial.size() && serial[skip] == 0) ++skip;
  return serial.subspan(skip);
}

}  // namespace

struct IdentityIndex::Impl {
  mutable std::shared_mutex mutex;  // readers shared, writers exclusive
  std::mutex writer;                // orders writers against a running load()
  Data data;
};

IdentityIndex::IdentityIndex() : impl_(std::make_unique<Impl>()) {}
IdentityIndex::~IdentityIndex() = default;

void IdentityIndex::load(Ledger& ledger) {
  std::lock_guard writer(impl_->writer);
  // Build beside the live data, outside the exclusive lock, so lookups keep being
  // answered from the old content while the ledger is read.
  Data fresh;
  ledger.for_each_device([&](const Device& d) { fresh.devices[d.id] = DeviceInfo{d.enabled, d.name, d.groups}; });
  const std::size_t expected = ledger.certificate_count();
  fresh.entries.reserve(expected);
  fresh.by_serial.reserve(expected, fresh.entries);
  fresh.by_fingerprint.reserve(expected, fresh.entries);
  ledger.for_each_certificate([&](const CertificateRecord& record) { fresh.put(record); });
  {
    std::unique_lock lock(impl_->mutex);
    std::swap(impl_->data, fresh);
  }
  // `fresh` now holds the old content and is freed here, outside the lock.
}

Identity IdentityIndex::by_serial(std::span<const std::uint8_t> serial, UnixTime now) const {
  const Key key = magnitude(serial);
  if (key.empty() || key.size() > kMaxSerialOctets) return {};
  std::shared_lock lock(impl_->mutex);
  const Data& d = impl_->data;
  const auto position = d.by_serial.find(key, d.entries);
  if (!position) return {};
  return d.describe(d.entries[*position], now);
}

Identity IdentityIndex::by_fingerprint(std::span<const std::uint8_t, 32> sha256, UnixTime now) const {
  std::shared_lock lock(impl_->mutex);
  const Data& d = impl_->data;
  const auto position = d.by_fingerprint.find(Key(sha256.data(), sha256.size()), d.entries);
  if (!position) return {};
  return d.describe(d.entries[*position], now);
}

Identity IdentityIndex::by_serial_hex(const std::string& serial_hex, UnixTime now) const {
  const auto canonical = detail::canonical_serial_hex(serial_hex);
  if (!canonical) return {};
  std::array<std::uint8_t, kMaxSerialOctets> bytes{};
  const std::size_t n = canonical->size() / 2;
  if (!from_hex(*canonical, std::span(bytes.data(), n))) return {};
  return by_serial(std::span<const std::uint8_t>(bytes.data(), n), now);
}

void IdentityIndex::put_certificate(const CertificateRecord& record) {
  std::lock_guard writer(impl_->writer);
  std::unique_lock lock(impl_->mutex);
  impl_->data.put(record);
}

void IdentityIndex::mark_revoked(const std::string& serial_hex, UnixTime at, RevocationReason reason) {
  const auto canonical = detail::canonical_serial_hex(serial_hex);
  if (!canonical) return;
  std::array<std::uint8_t, kMaxSerialOctets> bytes{};
  const std::size_t n = canonical->size() / 2;
  if (!from_hex(*canonical, std::span(bytes.data(), n))) return;
  std::lock_guard writer(impl_->writer);
  std::unique_lock lock(impl_->mutex);
  Data& d = impl_->data;
  const auto position = d.by_serial.find(Key(bytes.data(), n), d.entries);
  // Unknown serials are ignored: the ledger is the record, and a certificate that is not
  // in the index already answers "unknown", which every caller treats as a rejection.
  if (!position) return;
  Entry& e = d.entries[*position];
  if (e.revoked()) return;  // the first revocation's time and reason stand, as in the ledger
  e.revoked_at = at;
  e.reason = static_cast<std::uint8_t>(reason);
}

void IdentityIndex::put_device(const Device& device) {
  std::lock_guard writer(impl_->writer);
  std::unique_lock lock(impl_->mutex);
  impl_->data.devices[device.id] = DeviceInfo{device.enabled, device.name, device.groups};
}

std::optional<bool> IdentityIndex::device_enabled(std::int64_t id) const {
  std::shared_lock lock(impl_->mutex);
  const auto it = impl_->data.devices.find(id);
  if (it == impl_->data.devices.end()) return std::nullopt;
  return it->second.enabled;
}

CertificateCensus IdentityIndex::census(UnixTime now, std::span<const UnixTime> windows) const {
  CertificateCensus out;
  out.expiring.assign(windows.size(), 0);
  std::shared_lock lock(impl_->mutex);
  for (const Entry& e : impl_->data.entries) {
    if (e.revoked()) {
      ++out.revoked;
    } else if (e.not_after < now) {
      ++out.expired;
    } else {
      ++out.valid;
      for (std::size_t i = 0; i < windows.size(); ++i)
        if (e.not_after < now + windows[i]) ++out.expiring[i];
    }
  }
  return out;
}

IndexStats IdentityIndex::stats() const {
  std::shared_lock lock(impl_->mutex);
  const Data& d = impl_->data;
  return {d.entries.size(), d.devices.size(), sizeof(Impl) + d.bytes()};
}

}  // namespace portcullis::ca
