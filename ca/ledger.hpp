// The ledger: the durable record of devices, certificates, revocations, challenges and
// the audit log. A narrow interface so that a PostgreSQL backend (several nodes sharing
// one ledger) can sit beside the embedded SQLite one later.
//
// Every mutating call is one transaction: it either commits whole (data + audit row) or
// throws and leaves nothing behind.
#pragma once

#include "ca/records.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace portcullis::ca {

class LedgerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// A serial already present: the issuer draws a fresh serial and signs again.
class DuplicateSerial : public LedgerError {
 public:
  using LedgerError::LedgerError;
};
// A unique name already taken, an unknown device id, …: the caller's input is wrong.
class LedgerConflict : public LedgerError {
 public:
  using LedgerError::LedgerError;
};
class LedgerNotFound : public LedgerError {
 public:
  using LedgerError::LedgerError;
};

struct DeviceFilter {
  std::string search;               // substring of name, display name or owner; empty = all
  std::optional<bool> enabled;
  std::size_t limit = 1000;
  std::size_t offset = 0;
};

struct CertificateFilter {
  std::optional<std::int64_t> device_id;
  std::optional<std::string> status;          // "valid" | "revoked" | "expired" (at `now`)
  std::optional<UnixTime> expiring_before;     // not_after < this
  UnixTime now = 0;
  std::size_t limit = 1000;
  std::size_t offset = 0;
};

struct AuditFilter {
  std::optional<std::string> target;
  std::optional<std::string> action;
  std::size_t limit = 200;        // newest first
};

// Which device an issuance is for. Exactly one of id / name is set.
struct DeviceRef {
  std::optional<std::int64_t> id;
  std::optional<std::string> name;
  bool create_if_missing = false;   // only with `name`
};

struct IssuanceOutcome {
  Device device;
  bool device_created = false;
};

struct RevocationOutcome {
  CertificateRecord certificate;   // after the change
  bool changed = false;            // false: it was already revoked (kept its first time/reason)
};

class Ledger {
 public:
  virtual ~Ledger() = default;

  // --- devices
  virtual Device create_device(const NewDevice& device, const std::string& actor) = 0;   // LedgerConflict on duplicate name
  virtual std::optional<Device> find_device(std::int64_t id) = 0;
  virtual std::optional<Device> find_device_by_name(const std::string& name) = 0;
  virtual std::vector<Device> list_devices(const DeviceFilter& filter) = 0;
  // Returns the device after the change; LedgerNotFound for an unknown id.
  virtual Device set_device_enabled(std::int64_t id, bool enabled, const std::string& actor) = 0;

  // --- certificates
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
  virtual std::vector<RevokedEntry> revoked_certificates() = 0;
  virtual std::size_t certificate_count() = 0;

  // --- CRL numbers (RFC 5280 §5.2.3: monotonically increasing)
  virtual std::int64_t next_crl_number() = 0;

  // --- audit (append-only)
  virtual void append_audit(const AuditEntry& entry) = 0;
  virtual std::vector<AuditEntry> audit(const AuditFilter& filter) = 0;

  // --- bulk read for the in-memory index at start-up (no DER, to keep it fast)
  virtual void for_each_certificate(const std::function<void(const CertificateRecord&)>& fn) = 0;
  virtual void for_each_device(const std::function<void(const Device&)>& fn) = 0;

  // --- maintenance
  virtual std::string integrity_check() = 0;  // "ok" when healthy
};

// Opens (creating and migrating as needed) the SQLite ledger at `path`.
// Refuses, with a clear message, a ledger written by a newer schema version.
std::unique_ptr<Ledger> open_sqlite_ledger(const std::string& path);

}  // namespace portcullis::ca
