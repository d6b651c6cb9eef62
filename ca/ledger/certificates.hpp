// Issued certificates and their revocation: the ledger that decides identity.
#pragma once

#include "ca/ledger/scep_transactions.hpp"
#include "ca/records.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::ca {

struct CertificateFilter {
  std::optional<std::int64_t> device_id;
  std::optional<std::string> status;          // "valid" | "revoked" | "expired" (at `now`)
  std::optional<UnixTime> expiring_before;     // not_after < this
  std::optional<UnixTime> not_after_from;      // not_after >= this
  UnixTime now = 0;
  std::size_t limit = 1000;
  std::size_t offset = 0;
};

// Which device an issuance is for. Exactly one of id / name is set.
struct DeviceRef {
  std::optional<std::int64_t> id;
  std::optional<std::string> name;
  bool create_if_missing = false;   // only with `name`
  // With create_if_missing: the device must not exist yet (LedgerConflict when it does),
  // decided inside the issuance transaction, so two requests cannot both claim a name.
  bool new_only = false;
  std::vector<std::string> groups_if_created;   // with create_if_missing: the new device's groups
  // Written in the SAME transaction as the certificate row, so that a challenge is never
  // spent without a certificate nor a certificate issued twice for one challenge:
  // the challenge (by secret hash) is marked used (ChallengeRefused when it is unknown,
  // expired or already used), and the SCEP transaction is recorded (DuplicateTransaction
  // when it already is: the caller then answers with the certificate recorded first).
  std::optional<std::string> redeem_challenge_hash;
  std::optional<ScepTransactionKey> scep_transaction;
  // A pending SCEP request (scep_requests.id) this issuance approves: marked 'approved'
  // with the serial in the same transaction (LedgerConflict when it is not pending).
  std::optional<std::int64_t> approve_scep_request;
};

struct IssuanceOutcome {
  Device device;
  bool device_created = false;
};

struct RevocationOutcome {
  CertificateRecord certificate;   // after the change
  bool changed = false;            // false: it was already revoked (kept its first time/reason)
};

// Issuance (with the device, challenge and SCEP transaction it settles) and revocation.
class CertificateStore {
 public:
  virtual ~CertificateStore() = default;

  // One transaction: resolve (or create) the device, insert the certificate row
  // (record.device_id is filled in here), write the audit rows. DuplicateSerial when the
  // serial exists; LedgerNotFound for an unknown device; LedgerConflict for a disabled one.
  virtual IssuanceOutcome record_issuance(const DeviceRef& device, CertificateRecord record,
                                          const std::string& actor) = 0;
  virtual std::optional<CertificateRecord> find_certificate(const std::string& serial_hex) = 0;
  virtual std::vector<CertificateRecord> list_certificates(const CertificateFilter& filter) = 0;
  // LedgerNotFound for an unknown serial.
  virtual RevocationOutcome revoke(const std::string& serial_hex, RevocationReason reason, UnixTime at,
                                   const std::string& actor) = 0;
  // Revokes every unrevoked certificate of the device in one transaction; returns those it
  // revoked (empty if none). LedgerNotFound for an unknown device.
  virtual std::vector<CertificateRecord> revoke_device(std::int64_t device_id, RevocationReason reason, UnixTime at,
                                                       const std::string& actor) = 0;
  // revoke_device for many devices in ONE transaction (all or nothing): LedgerNotFound for
  // any unknown id leaves every device as it was.
  virtual std::vector<CertificateRecord> revoke_devices(const std::vector<std::int64_t>& device_ids,
                                                        RevocationReason reason, UnixTime at,
                                                        const std::string& actor) = 0;
  virtual std::vector<RevokedEntry> revoked_certificates() = 0;
  virtual std::size_t certificate_count() = 0;

  // CRL numbers (RFC 5280 §5.2.3: monotonically increasing)
  virtual std::int64_t next_crl_number() = 0;

  // Bulk read for the in-memory index at start-up (no DER, to keep it fast).
  virtual void for_each_certificate(const std::function<void(const CertificateRecord&)>& fn) = 0;
};

}  // namespace portcullis::ca
