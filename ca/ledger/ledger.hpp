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
// record_issuance: the challenge to redeem is unknown, expired or already used.
class ChallengeRefused : public LedgerConflict {
 public:
  using LedgerConflict::LedgerConflict;
};
// record_issuance: the SCEP transaction already has its certificate.
class DuplicateTransaction : public LedgerConflict {
 public:
  using LedgerConflict::LedgerConflict;
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

// The audit rows of refused SCEP requests (append_refusals).
inline constexpr const char* kRefusalActor = "scep";
inline constexpr const char* kRefusalAction = "scep.reject";
inline constexpr const char* kRefusalSummaryAction = "scep.reject.suppressed";   // N refusals counted, not written

struct AuditFilter {
  std::optional<std::string> target;
  std::optional<std::string> action;
  std::size_t limit = 200;        // newest first
};

// The SCEP transaction an issuance answers (RFC 8894 §3.2.1.1 transactionID), keyed with
// the requester's signing certificate: one client cannot collect another's certificate by
// guessing its transactionID, and a renewal is not mistaken for a retransmission even
// where the client derives the transactionID from a key it keeps (micromdm does).
struct ScepTransactionKey {
  std::string transaction_id;
  std::string requester_sha256;   // lowercase hex SHA-256 of the requester's signing certificate (DER)
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

// A SCEP enrollment waiting for manual approval (RFC 8894 §3.3.2 PENDING). It passed
// every check (signature, challenge, CSR policy); the challenge was spent when it was
// stored. The client's CertPoll finds it by its transaction key.
struct NewScepRequest {
  ScepTransactionKey transaction;
  std::string device_name;
  bool create_device = false;       // static challenge: the device (named by the CN) is created at approval
  std::string profile;
  std::string subject;              // the CSR subject, one line, for the operator
  std::vector<std::uint8_t> csr_der;
  std::optional<std::string> redeem_challenge_hash;   // marked used in the same transaction
  // What the challenge pinned, for the certificate issued at approval (ca/issued_names.hpp).
  std::string cn;                   // empty: the device name
  std::vector<std::string> sans;
};

struct ScepRequestRecord {
  std::int64_t id = 0;
  ScepTransactionKey transaction;
  std::string status;               // "pending" | "approved" | "rejected"
  std::string device_name;
  bool create_device = false;
  std::string profile;
  std::string subject;
  std::vector<std::uint8_t> csr_der;
  std::optional<std::string> serial;   // approved: the certificate issued
  UnixTime created_at = 0;
  std::optional<std::string> decided_by;
  std::optional<UnixTime> decided_at;
  std::string reason;               // rejected: the operator's reason
  std::string cn;                   // pinned CN; empty: the device name
  std::vector<std::string> sans;    // pinned SANs
};

// One-time SCEP challenge passwords (RFC 8894 §2.3). Only the hash of the secret is stored.
struct NewChallenge {
  std::string secret_hash;          // lowercase hex SHA-256 of the secret
  std::string device_name;          // created when missing: an MDM mints before the device exists
  std::string profile;
  std::optional<std::string> cn;    // when set, the CSR's CN must equal it, and the certificate names it
  std::vector<std::string> sans;    // SANs the certificate will carry ("dns:NAME", "email:ADDR", "uri:URI")
  UnixTime expires_at = 0;
};

struct ChallengeRecord {
  std::int64_t id = 0;
  std::string secret_hash;
  std::int64_t device_id = 0;
  std::string device_name;
  std::string profile;
  std::optional<std::string> cn;
  std::vector<std::string> sans;
  std::string created_by;
  UnixTime created_at = 0;
  UnixTime expires_at = 0;
  std::optional<UnixTime> used_at;
};

struct IssuanceOutcome {
  Device device;
  bool device_created = false;
};

// One RADIUS accounting session (RFC 2866), keyed by (nas, acct_session_id).
struct RadiusSessionRow {
  std::string nas;                  // NAS name from the config
  std::string acct_session_id;      // RFC 2866 §5.5
  std::string serial;               // certificate that authenticated it; "" when not linked
  std::string calling_station_id;
  std::string user_name;
  UnixTime started_at = 0;          // kept from the first record of the session
  UnixTime updated_at = 0;
  std::optional<UnixTime> stopped_at;   // set by Accounting-Stop; never cleared again
  std::string device;               // read only: the device of `serial`, "" when unknown
  // Schema v5, what an RFC 5176 Disconnect-/CoA-Request needs after a restart. "" = unknown
  // (an empty value never overwrites a known one).
  std::string nas_address;          // where the NAS's requests come from (its CoA server's address)
  std::string nas_ip_address;       // NAS-IP-Address as the NAS sent it (dotted quad)
  std::string nas_ipv6_address;     // NAS-IPv6-Address as the NAS sent it
  std::string nas_identifier;       // NAS-Identifier as the NAS sent it
  std::string rule;                 // the policy rule that accepted the session
  std::string coa_reply;            // hex of the wire attributes a device disable sends in a CoA-Request; "" = Disconnect
  std::string dynauth;              // last Disconnect/CoA outcome, "" = none sent
  std::optional<UnixTime> dynauth_at;
};

// The outcome of one Disconnect-/CoA-Request for a session (RFC 5176).
struct RadiusSessionMark {
  std::string nas;
  std::string acct_session_id;
  std::string outcome;              // "Disconnect ACK", "Disconnect NAK 503 (Session-Context-Not-Found)", "timeout", …
  UnixTime at = 0;
  bool ended = false;               // the NAS confirmed the session is gone: stopped_at = at unless already set
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
  // revoke_device for many devices in ONE transaction (all or nothing): LedgerNotFound for
  // any unknown id leaves every device as it was.
  virtual std::vector<CertificateRecord> revoke_devices(const std::vector<std::int64_t>& device_ids,
                                                        RevocationReason reason, UnixTime at,
                                                        const std::string& actor) = 0;
  virtual std::vector<RevokedEntry> revoked_certificates() = 0;
  virtual std::size_t certificate_count() = 0;

  // --- CRL numbers (RFC 5280 §5.2.3: monotonically increasing)
  virtual std::int64_t next_crl_number() = 0;

  // --- audit (append-only)
  // LedgerConflict for an empty action, and for a refusal row (kRefusalActor with a
  // refusal action): those go through append_refusals.
  virtual void append_audit(const AuditEntry& entry) = 0;
  virtual std::vector<AuditEntry> audit(const AuditFilter& filter) = 0;
  // Rows for refused SCEP requests, which anyone reaching the public port can cause: all
  // in one transaction, shared with concurrent issuances (one sync for the lot). Then the
  // oldest refusal rows beyond `keep` are deleted, the one exception to append-only.
  // Every row must have actor kRefusalActor and action kRefusalAction or
  // kRefusalSummaryAction (LedgerConflict otherwise, nothing written).
  virtual void append_refusals(const std::vector<AuditEntry>& rows, std::size_t keep) = 0;

  // --- bulk read for the in-memory index at start-up (no DER, to keep it fast)
  virtual void for_each_certificate(const std::function<void(const CertificateRecord&)>& fn) = 0;
  virtual void for_each_device(const std::function<void(const Device&)>& fn) = 0;

  // --- RADIUS accounting sessions.
  // Upsert by (nas, acct_session_id) in one transaction: started_at stays the first one seen,
  // an empty serial/calling_station_id/user_name never overwrites a known one, and a stop
  // is never undone by a late Interim-Update.
  virtual void record_radius_session(const RadiusSessionRow& row) = 0;
  // Newest first (by updated_at); live_only = not stopped.
  virtual std::vector<RadiusSessionRow> list_radius_sessions(bool live_only, std::size_t limit) = 0;
  // Records Disconnect/CoA outcomes, all in one transaction (many arrive together after a
  // bulk revocation; one fsync for all of them). Unknown sessions are skipped.
  virtual void mark_radius_sessions(const std::vector<RadiusSessionMark>& marks) = 0;
  // Accounting-On/Off (RFC 2866 §5.1): every live session of that NAS (and, when
  // `nas_address` is not empty, of that source address or an unknown one) is stopped at `at`.
  // Returns how many.
  virtual std::size_t stop_radius_sessions_of_nas(const std::string& nas, const std::string& nas_address,
                                                  UnixTime at) = 0;
  // Keeps the table bounded: deletes the stopped sessions that stopped before
  // `stopped_before`, then the oldest stopped ones past `max_rows` rows in all. Live rows
  // are never deleted (the live table bounds them). Returns how many were deleted.
  virtual std::size_t prune_radius_sessions(UnixTime stopped_before, std::size_t max_rows) = 0;

  // --- SCEP (scep/).
  // One transaction: the device (created when missing), the challenge row, the audit row.
  virtual ChallengeRecord mint_challenge(const NewChallenge& challenge, const std::string& actor) = 0;
  virtual std::optional<ChallengeRecord> find_challenge(const std::string& secret_hash) = 0;
  // The serial of the certificate a SCEP transaction was answered with.
  virtual std::optional<std::string> find_scep_transaction(const ScepTransactionKey& key) = 0;
  // Whether the key has a transaction row or a held request: one read for what every new
  // enrollment asks (and is told "no") before the detailed lookups.
  virtual bool scep_transaction_known(const ScepTransactionKey& key) = 0;
  // Pending requests (schema v4). create: one transaction with the challenge redemption
  // and the audit row "scep.pending"; ChallengeRefused, DuplicateTransaction when the key
  // already has a request. Approval goes through record_issuance (DeviceRef::approve_scep_request).
  virtual ScepRequestRecord create_scep_request(const NewScepRequest& request, const std::string& actor) = 0;
  virtual std::optional<ScepRequestRecord> find_scep_request(const ScepTransactionKey& key) = 0;
  virtual std::optional<ScepRequestRecord> find_scep_request_by_id(std::int64_t id) = 0;
  // Newest first; status empty = all.
  virtual std::vector<ScepRequestRecord> list_scep_requests(const std::string& status, std::size_t limit) = 0;
  // pending -> rejected with the audit row "scep.reject"; LedgerNotFound, LedgerConflict when not pending.
  virtual ScepRequestRecord reject_scep_request(std::int64_t id, const std::string& reason,
                                                const std::string& actor) = 0;

  // --- maintenance
  virtual std::string integrity_check() = 0;  // "ok" when healthy
};

// Opens (creating and migrating as needed) the SQLite ledger at `path`.
// Refuses, with a clear message, a ledger written by a newer schema version.
std::unique_ptr<Ledger> open_sqlite_ledger(const std::string& path);

}  // namespace portcullis::ca
