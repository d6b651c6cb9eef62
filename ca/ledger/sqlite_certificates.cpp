// The SQLite ledger: certificates, issuance and revocation.
#include "ca/serial_text.hpp"
#include "ca/ledger/ledger_rules.hpp"
#include "ca/ledger/sqlite_ledger.hpp"
#include "ca/ledger/string_list.hpp"

#include <iterator>
#include <stdexcept>

namespace portcullis::ca::sqlite {

using detail::clamp_count;
using detail::issue_detail;
using detail::reason_from_code;

CertificateRecord certificate_from_row(const Statement& row, bool with_der) {
  CertificateRecord c;
  c.serial_hex = row.column_text(0);
  c.device_id = row.column_int64(1);
  c.profile = row.column_text(2);
  c.subject = row.column_text(3);
  try {
    c.sans = detail::decode_string_list(row.column_text(4));
  } catch (const std::invalid_argument&) {
    throw LedgerError("ledger: certificate " + c.serial_hex + " has a malformed SAN list");
  }
  c.sha256_fingerprint = row.column_text(5);
  c.not_before = row.column_int64(6);
  c.not_after = row.column_int64(7);
  c.issued_at = row.column_int64(8);
  c.revoked = !row.column_is_null(9);
  if (c.revoked) {
    c.revoked_at = row.column_int64(9);
    c.revocation_reason = reason_from_code(row.column_int64(10));
  }
  if (with_der) c.der = row.column_blob(11);
  return c;
}

std::optional<CertificateRecord> SqliteLedger::certificate_locked(const std::string& canonical_serial) {
  return certificate_by_serial(db_, canonical_serial);
}

std::optional<CertificateRecord> certificate_by_serial(Connection& db, const std::string& canonical_serial) {
  auto stmt = db.cached(
      "SELECT serial, device_id, profile, subject, sans, sha256_fingerprint, not_before, not_after, issued_at, "
      "revoked_at, revocation_reason, der FROM certificates WHERE serial = ?1");
  stmt->bind(1, canonical_serial);
  if (!stmt->step()) return std::nullopt;
  return certificate_from_row(*stmt, /*with_der=*/true);
}

IssuanceOutcome SqliteLedger::record_issuance(const DeviceRef& ref, CertificateRecord record, const std::string& actor) {
  // Input checks first: they need no lock and must not leave anything behind.
  detail::prepare_issuance(ref, record);

  // Concurrent issuances share a transaction and its WAL sync (sqlite_group_commit.hpp).
  IssuanceOutcome outcome;
  issuance_commits_.run([&] { outcome = record_issuance_locked(ref, record, actor); });
  return outcome;
}

IssuanceOutcome SqliteLedger::record_issuance_locked(const DeviceRef& ref, CertificateRecord& record,
                                                     const std::string& actor) {
  IssuanceOutcome outcome;
  std::optional<Device> device = ref.id ? device_by_id_locked(*ref.id) : device_by_name_locked(*ref.name);
  if (!device) {
    if (!ref.create_if_missing) {
      throw LedgerNotFound(ref.id ? "no device with id " + std::to_string(*ref.id) : "no device named '" + *ref.name + "'");
    }
    device = insert_device_locked(NewDevice{*ref.name, {}, {}, ref.groups_if_created}, actor);
    outcome.device_created = true;
  } else if (ref.new_only) {
    throw LedgerConflict("device '" + device->name + "' exists; this enrollment may only create a new device");
  }
  if (!device->enabled) throw LedgerConflict("device '" + device->name + "' is disabled");
  record.device_id = device->id;

  {
    auto stmt = db_.cached(
        "INSERT INTO certificates (serial, device_id, profile, subject, sans, sha256_fingerprint, not_before, "
        "not_after, issued_at, revoked_at, revocation_reason, der) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    stmt->bind(1, record.serial_hex)
        .bind(2, record.device_id)
        .bind(3, record.profile)
        .bind(4, record.subject)
        .bind(5, detail::encode_string_list(record.sans))
        .bind(6, record.sha256_fingerprint)
        .bind(7, record.not_before)
        .bind(8, record.not_after)
        .bind(9, record.issued_at);
    if (record.revoked) {
      stmt->bind(10, record.revoked_at).bind(11, static_cast<std::int64_t>(record.revocation_reason));
    }
    stmt->bind_blob(12, record.der);
    try {
      stmt->run();
    } catch (const SqliteError& e) {
      // The serial is the PRIMARY KEY, the fingerprint the only other UNIQUE column.
      if (e.extended_code() == SQLITE_CONSTRAINT_PRIMARYKEY) {
        throw DuplicateSerial("certificate serial " + record.serial_hex + " is already recorded");
      }
      if (e.extended_code() == SQLITE_CONSTRAINT_UNIQUE) {
        throw LedgerConflict("a certificate with SHA-256 fingerprint " + record.sha256_fingerprint +
                             " is already recorded");
      }
      throw;
    }
  }
  redeem_for_issuance_locked(ref, *device, record, actor);
  insert_audit_locked({0, record.issued_at, actor, "issue", record.serial_hex, issue_detail(*device, record)});
  outcome.device = std::move(*device);
  return outcome;
}

std::optional<CertificateRecord> SqliteLedger::find_certificate(const std::string& serial_hex) {
  const auto serial = detail::canonical_serial_hex(serial_hex);
  if (!serial) return std::nullopt;
  return read([&](Connection& db) { return certificate_by_serial(db, *serial); });
}

std::vector<CertificateRecord> SqliteLedger::list_certificates(const CertificateFilter& filter) {
  const UnixTime now = filter.now != 0 ? filter.now : now_unix();
  // Fixed clauses, bound values; not_after is inclusive (RFC 5280 §4.1.2.5: "through").
  std::string sql =
      "SELECT serial, device_id, profile, subject, sans, sha256_fingerprint, not_before, not_after, issued_at, "
      "revoked_at, revocation_reason, der FROM certificates WHERE 1";
  if (filter.device_id) sql += " AND device_id = ?1";
  if (filter.status) {
    if (*filter.status == "valid") {
      sql += " AND revoked_at IS NULL AND not_after >= ?2";
    } else if (*filter.status == "revoked") {
      sql += " AND revoked_at IS NOT NULL";
    } else if (*filter.status == "expired") {
      sql += " AND revoked_at IS NULL AND not_after < ?2";
    } else {
      throw LedgerConflict("unknown certificate status filter (use valid, revoked or expired)");
    }
  }
  if (filter.expiring_before) sql += " AND not_after < ?3";
  if (filter.not_after_from) sql += " AND not_after >= ?6";
  sql += " ORDER BY issued_at, serial LIMIT ?4 OFFSET ?5";

  std::lock_guard lock(mutex_);
  Statement stmt = db_.prepare(sql);
  if (filter.device_id) stmt.bind(1, *filter.device_id);
  if (filter.status && *filter.status != "revoked") stmt.bind(2, now);
  if (filter.expiring_before) stmt.bind(3, *filter.expiring_before);
  if (filter.not_after_from) stmt.bind(6, *filter.not_after_from);
  stmt.bind(4, clamp_count(filter.limit)).bind(5, clamp_count(filter.offset));
  std::vector<CertificateRecord> certs;
  while (stmt.step()) certs.push_back(certificate_from_row(stmt, /*with_der=*/true));
  return certs;
}

void SqliteLedger::mark_revoked_locked(CertificateRecord& cert, RevocationReason reason, UnixTime at,
                                       const std::string& actor, const std::string& device_name) {
  {
    auto stmt = db_.cached(
        "UPDATE certificates SET revoked_at = ?1, revocation_reason = ?2 WHERE serial = ?3 AND revoked_at IS NULL");
    stmt->bind(1, at).bind(2, static_cast<std::int64_t>(reason)).bind(3, cert.serial_hex);
    stmt->run();
  }
  cert.revoked = true;
  cert.revoked_at = at;
  cert.revocation_reason = reason;
  insert_audit_locked({0, now_unix(), actor, "revoke", cert.serial_hex,
                       "reason=" + to_string(reason) + " device=" + device_name});
}

RevocationOutcome SqliteLedger::revoke(const std::string& serial_hex, RevocationReason reason, UnixTime at,
                                       const std::string& actor) {
  const auto serial = detail::canonical_serial_hex(serial_hex);
  if (!serial) throw LedgerNotFound("no certificate with that serial (not 1 to 20 octets of hex)");
  if (at == 0) at = now_unix();

  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  std::optional<CertificateRecord> cert = certificate_locked(*serial);
  if (!cert) throw LedgerNotFound("no certificate with serial " + *serial);
  RevocationOutcome outcome;
  if (cert->revoked) {
    // Keep the first revocation's time and reason: the CRL and OCSP already published them.
    outcome.certificate = std::move(*cert);
    return outcome;
  }
  const std::optional<Device> device = device_by_id_locked(cert->device_id);
  mark_revoked_locked(*cert, reason, at, actor, device ? device->name : std::string());
  tx.commit();
  outcome.certificate = std::move(*cert);
  outcome.changed = true;
  return outcome;
}

// Marks every unrevoked certificate of one device revoked; the caller holds the lock and
// the transaction, so one device and a thousand commit the same way.
std::vector<CertificateRecord> SqliteLedger::revoke_device_locked(std::int64_t device_id, RevocationReason reason,
                                                                  UnixTime at, const std::string& actor) {
  const std::optional<Device> device = device_by_id_locked(device_id);
  if (!device) throw LedgerNotFound("no device with id " + std::to_string(device_id));
  std::vector<CertificateRecord> certs;
  {
    auto stmt = db_.cached(
        "SELECT serial, device_id, profile, subject, sans, sha256_fingerprint, not_before, not_after, issued_at, "
        "revoked_at, revocation_reason, der FROM certificates WHERE device_id = ?1 AND revoked_at IS NULL "
        "ORDER BY issued_at, serial");
    stmt->bind(1, device_id);
    while (stmt->step()) certs.push_back(certificate_from_row(*stmt, /*with_der=*/true));
  }
  for (auto& cert : certs) mark_revoked_locked(cert, reason, at, actor, device->name);
  return certs;
}

std::vector<CertificateRecord> SqliteLedger::revoke_device(std::int64_t device_id, RevocationReason reason, UnixTime at,
                                                           const std::string& actor) {
  return revoke_devices({device_id}, reason, at, actor);
}

std::vector<CertificateRecord> SqliteLedger::revoke_devices(const std::vector<std::int64_t>& device_ids,
                                                            RevocationReason reason, UnixTime at,
                                                            const std::string& actor) {
  if (at == 0) at = now_unix();
  std::lock_guard lock(mutex_);
  // One transaction (one fsync) for all of them: a bulk revocation of 1,000 devices is
  // committed, and so takes effect, in milliseconds rather than seconds.
  Transaction tx(db_);
  std::vector<CertificateRecord> all;
  for (const std::int64_t device_id : device_ids) {
    std::vector<CertificateRecord> certs = revoke_device_locked(device_id, reason, at, actor);
    all.insert(all.end(), std::make_move_iterator(certs.begin()), std::make_move_iterator(certs.end()));
  }
  tx.commit();
  return all;
}

std::vector<RevokedEntry> SqliteLedger::revoked_certificates() {
  std::lock_guard lock(mutex_);
  auto stmt = db_.cached(
      "SELECT serial, revoked_at, revocation_reason FROM certificates WHERE revoked_at IS NOT NULL "
      "ORDER BY revoked_at, serial");
  std::vector<RevokedEntry> entries;
  while (stmt->step()) {
    entries.push_back({stmt->column_text(0), stmt->column_int64(1), reason_from_code(stmt->column_int64(2))});
  }
  return entries;
}

std::size_t SqliteLedger::certificate_count() {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(db_.query_int64("SELECT count(*) FROM certificates"));
}

void SqliteLedger::for_each_certificate(const std::function<void(const CertificateRecord&)>& fn) {
  std::lock_guard lock(mutex_);
  // No DER: start-up reads every row, and the index needs none of it.
  Statement stmt = db_.prepare(
      "SELECT serial, device_id, profile, subject, sans, sha256_fingerprint, not_before, not_after, issued_at, "
      "revoked_at, revocation_reason FROM certificates");
  while (stmt.step()) fn(certificate_from_row(stmt, /*with_der=*/false));
}

}  // namespace portcullis::ca::sqlite
