// In-memory identity/revocation index: "is this certificate ours, valid now, not revoked,
// and which device is it?" in O(1) without touching disk (docs/architecture.md, "The
// identity index").
//
// Loaded once from the ledger at start-up; afterwards every ledger change is applied here
// in the same call (see ca::Registry), so RADIUS and OCSP never read a stale answer.
// Thread-safe: many readers, one writer at a time.
#pragma once

#include "ca/records.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <memory>
#include <string>
#include <vector>

namespace portcullis::ca {

class Ledger;

enum class IdentityVerdict {
  good,             // ours, inside its validity, not revoked, device enabled
  unknown,          // not issued by us (or not in the ledger)
  not_yet_valid,
  expired,
  revoked,
  device_disabled,
};
const char* to_string(IdentityVerdict verdict);
// The X509_V_ERR_* a TLS peer's certificate fails with for a verdict other than good: it
// picks the alert OpenSSL sends (certificate_revoked, certificate_expired, …; RFC 8446 §6.2).
int x509_verify_error(IdentityVerdict verdict);

struct Identity {
  IdentityVerdict verdict = IdentityVerdict::unknown;
  std::int64_t device_id = 0;
  std::string device_name;
  std::string profile;
  std::vector<std::string> device_groups;                        // the device's groups/tags (policy rules)
  UnixTime not_before = 0;
  UnixTime not_after = 0;
  UnixTime revoked_at = 0;                                       // when verdict == revoked
  RevocationReason revocation_reason = RevocationReason::unspecified;
};

// The read side that front ends depend on (radius/, OCSP).
class IdentityView {
 public:
  virtual ~IdentityView() = default;
  // `serial` is the big-endian magnitude (ca::serial_bytes).
  virtual Identity by_serial(std::span<const std::uint8_t> serial, UnixTime now) const = 0;
  virtual Identity by_fingerprint(std::span<const std::uint8_t, 32> sha256, UnixTime now) const = 0;
};

struct IndexStats {
  std::size_t certificates = 0;
  std::size_t devices = 0;
  std::size_t approx_bytes = 0;
};

// Certificates by status at one instant, as the ledger's status filter counts them:
// revoked first, then expired (not_after < now; RFC 5280 §4.1.2.5, notAfter is inclusive),
// else valid. For the metrics.
struct CertificateCensus {
  std::size_t valid = 0;
  std::size_t revoked = 0;
  std::size_t expired = 0;
  // expiring[i]: valid certificates whose not_after is before now + windows[i] seconds.
  std::vector<std::size_t> expiring;
};

class IdentityIndex final : public IdentityView {
 public:
  IdentityIndex();
  ~IdentityIndex() override;
  IdentityIndex(const IdentityIndex&) = delete;
  IdentityIndex& operator=(const IdentityIndex&) = delete;

  // Replaces the whole content with what the ledger holds.
  void load(Ledger& ledger);

  Identity by_serial(std::span<const std::uint8_t> serial, UnixTime now) const override;
  Identity by_fingerprint(std::span<const std::uint8_t, 32> sha256, UnixTime now) const override;
  Identity by_serial_hex(const std::string& serial_hex, UnixTime now) const;

  // Writers, called by ca::Registry right after the ledger committed.
  void put_certificate(const CertificateRecord& record);   // serial_hex and sha256_fingerprint must be set
  void mark_revoked(const std::string& serial_hex, UnixTime at, RevocationReason reason);
  void put_device(const Device& device);

  // Whether the index holds device `id` as enabled; nullopt for a device it never heard of.
  std::optional<bool> device_enabled(std::int64_t id) const;

  IndexStats stats() const;
  // One pass over every entry under the readers' lock: callers that ask often cache it.
  CertificateCensus census(UnixTime now, std::span<const UnixTime> windows) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace portcullis::ca
