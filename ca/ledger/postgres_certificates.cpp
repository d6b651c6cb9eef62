// The PostgreSQL ledger: certificates, issuance and revocation.
#include "ca/ledger/ledger_rules.hpp"
#include "ca/ledger/postgres_ledger.hpp"
#include "ca/ledger/string_list.hpp"
#include "ca/serial_text.hpp"

#include <iterator>
#include <stdexcept>

namespace portcullis::ca::postgres {
namespace {

const std::string kSelectWithDer = std::string("SELECT ") + kCertificateColumns + ", der FROM certificates ";

// The constraints of the certificates table (postgres_schema.cpp), by PostgreSQL's names.
constexpr const char* kSerialKey = "certificates_pkey";
constexpr const char* kFingerprintKey = "certificates_sha256_fingerprint_key";

std::optional<CertificateRecord> certificate_by_serial(Connection& db, const std::string& serial, bool for_update) {
  const Result r =
      db.exec(kSelectWithDer + "WHERE serial = $1" + (for_update ? " FOR UPDATE" : ""), Params().add(serial));
  if (r.rows() == 0) return std::nullopt;
  return certificate_from(r, 0, /*with_der=*/true);
}

void mark_revoked(Connection& db, CertificateRecord& cert, RevocationReason reason, UnixTime at,
                  const std::string& actor, const std::string& device_name) {
  db.exec("UPDATE certificates SET revoked_at = $1, revocation_reason = $2 WHERE serial = $3 AND revoked_at IS NULL",
          Params().add(at).add(static_cast<std::int64_t>(reason)).add(cert.serial_hex));
  record_change(db, kChangeCertificate, cert.serial_hex);
  cert.revoked = true;
  cert.revoked_at = at;
  cert.revocation_reason = reason;
  insert_audit(db, {0, now_unix(), actor, "revoke", cert.serial_hex,
                    "reason=" + to_string(reason) + " device=" + device_name});
}

void insert_certificate(Connection& db, const CertificateRecord& record) {
  Params params;
  params.add(record.serial_hex)
      .add(record.device_id)
      .add(record.profile)
      .add(record.subject)
      .add(detail::encode_string_list(record.sans))
      .add(record.sha256_fingerprint)
      .add(record.not_before)
      .add(record.not_after)
      .add(record.issued_at);
  if (record.revoked) {
    params.add(record.revoked_at).add(static_cast<std::int64_t>(record.revocation_reason));
  } else {
    params.add_null().add_null();
  }
  params.add_bytes(record.der);
  try {
    db.exec(
        "INSERT INTO certificates (serial, device_id, profile, subject, sans, sha256_fingerprint, not_before, "
        "not_after, issued_at, revoked_at, revocation_reason, der) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        params);
  } catch (const PgError& e) {
    if (e.unique_violation() && e.constraint() == kSerialKey) {
      throw DuplicateSerial("certificate serial " + record.serial_hex + " is already recorded");
    }
    if (e.unique_violation() && e.constraint() == kFingerprintKey) {
      throw LedgerConflict("a certificate with SHA-256 fingerprint " + record.sha256_fingerprint +
                           " is already recorded");
    }
    throw;
  }
}

// The device an issuance is for, locked FOR SHARE until it commits (postgres_ledger.cpp).
Device issuance_device(Connection& db, const DeviceRef& ref, const std::string& actor, IssuanceOutcome& outcome) {
  std::optional<Device> device = ref.id ? device_by_id(db, *ref.id, /*for_share=*/true) : device_by_name(db, *ref.name);
  if (!device) {
    if (!ref.create_if_missing) {
      throw LedgerNotFound(ref.id ? "no device with id " + std::to_string(*ref.id) : "no device named '" + *ref.name + "'");
    }
    bool created = false;
    device = device_by_name_or_insert(db, NewDevice{*ref.name, {}, {}, ref.groups_if_created}, actor, created);
    outcome.device_created = created;
    if (!created && ref.new_only) {
      throw LedgerConflict("device '" + device->name + "' exists; this enrollment may only create a new device");
    }
  } else if (ref.new_only) {
    throw LedgerConflict("device '" + device->name + "' exists; this enrollment may only create a new device");
  }
  if (!device->enabled) throw LedgerConflict("device '" + device->name + "' is disabled");
  return std::move(*device);
}

}  // namespace

CertificateRecord certificate_from(const Result& r, int row, bool with_der) {
  CertificateRecord c;
  c.serial_hex = r.text(row, 0);
  c.device_id = r.int64(row, 1);
  c.profile = r.text(row, 2);
  c.subject = r.text(row, 3);
  try {
    c.sans = detail::decode_string_list(r.text(row, 4));
  } catch (const std::invalid_argument&) {
    throw LedgerError("ledger: certificate " + c.serial_hex + " has a malformed SAN list");
  }
  c.sha256_fingerprint = r.text(row, 5);
  c.not_before = r.int64(row, 6);
  c.not_after = r.int64(row, 7);
  c.issued_at = r.int64(row, 8);
  c.revoked = !r.is_null(row, 9);
  if (c.revoked) {
    c.revoked_at = r.int64(row, 9);
    c.revocation_reason = detail::reason_from_code(r.int64(row, 10));
  }
  if (with_der) c.der = r.bytes(row, 11);
  return c;
}

IssuanceOutcome PostgresLedger::record_issuance(const DeviceRef& ref, CertificateRecord record,
                                                const std::string& actor) {
  // Input checks first: they must not leave anything behind.
  detail::prepare_issuance(ref, record);
  return write([&](Connection& db) {
    IssuanceOutcome outcome;
    Device device = issuance_device(db, ref, actor, outcome);
    record.device_id = device.id;
    insert_certificate(db, record);
    redeem_for_issuance(db, ref, device, record, actor);
    record_change(db, kChangeCertificate, record.serial_hex);
    insert_audit(db, {0, record.issued_at, actor, "issue", record.serial_hex, detail::issue_detail(device, record)});
    outcome.device = std::move(device);
    return outcome;
  });
}

std::optional<CertificateRecord> PostgresLedger::find_certificate(const std::string& serial_hex) {
  const auto serial = detail::canonical_serial_hex(serial_hex);
  if (!serial) return std::nullopt;
  return read([&](Connection& db) { return certificate_by_serial(db, *serial, /*for_update=*/false); });
}

std::vector<CertificateRecord> PostgresLedger::list_certificates(const CertificateFilter& filter) {
  const UnixTime now = filter.now != 0 ? filter.now : now_unix();
  // Fixed clauses, bound values; not_after is inclusive (RFC 5280 §4.1.2.5: "through").
  std::string sql = kSelectWithDer + "WHERE true";
  Params params;
  const auto next = [&] { return "$" + std::to_string(params.size()); };
  if (filter.device_id) {
    params.add(*filter.device_id);
    sql += " AND device_id = " + next();
  }
  if (filter.status) {
    if (*filter.status == "valid") {
      params.add(now);
      sql += " AND revoked_at IS NULL AND not_after >= " + next();
    } else if (*filter.status == "revoked") {
      sql += " AND revoked_at IS NOT NULL";
    } else if (*filter.status == "expired") {
      params.add(now);
      sql += " AND revoked_at IS NULL AND not_after < " + next();
    } else {
      throw LedgerConflict("unknown certificate status filter (use valid, revoked or expired)");
    }
  }
  if (filter.expiring_before) {
    params.add(*filter.expiring_before);
    sql += " AND not_after < " + next();
  }
  if (filter.not_after_from) {
    params.add(*filter.not_after_from);
    sql += " AND not_after >= " + next();
  }
  params.add(detail::clamp_count(filter.limit));
  sql += " ORDER BY issued_at, serial COLLATE \"C\" LIMIT " + next();
  params.add(detail::clamp_count(filter.offset));
  sql += " OFFSET " + next();
  return read([&](Connection& db) {
    const Result r = db.exec(sql, params);
    std::vector<CertificateRecord> certs;
    for (int i = 0; i < r.rows(); ++i) certs.push_back(certificate_from(r, i, /*with_der=*/true));
    return certs;
  });
}

RevocationOutcome PostgresLedger::revoke(const std::string& serial_hex, RevocationReason reason, UnixTime at,
                                         const std::string& actor) {
  const auto serial = detail::canonical_serial_hex(serial_hex);
  if (!serial) throw LedgerNotFound("no certificate with that serial (not 1 to 20 octets of hex)");
  if (at == 0) at = now_unix();
  return write([&](Connection& db) {
    // FOR UPDATE: of two nodes revoking at once, the second sees the first's revocation.
    std::optional<CertificateRecord> cert = certificate_by_serial(db, *serial, /*for_update=*/true);
    if (!cert) throw LedgerNotFound("no certificate with serial " + *serial);
    RevocationOutcome outcome;
    if (cert->revoked) {
      // Keep the first revocation's time and reason: the CRL and OCSP already published them.
      outcome.certificate = std::move(*cert);
      return outcome;
    }
    const std::optional<Device> device = device_by_id(db, cert->device_id);
    mark_revoked(db, *cert, reason, at, actor, device ? device->name : std::string());
    outcome.certificate = std::move(*cert);
    outcome.changed = true;
    return outcome;
  });
}

std::vector<CertificateRecord> PostgresLedger::revoke_device(std::int64_t device_id, RevocationReason reason,
                                                             UnixTime at, const std::string& actor) {
  return revoke_devices({device_id}, reason, at, actor);
}

std::vector<CertificateRecord> PostgresLedger::revoke_devices(const std::vector<std::int64_t>& device_ids,
                                                              RevocationReason reason, UnixTime at,
                                                              const std::string& actor) {
  if (at == 0) at = now_unix();
  // One transaction for all of them: all or nothing.
  return write([&](Connection& db) {
    std::vector<CertificateRecord> all;
    for (const std::int64_t device_id : device_ids) {
      const std::optional<Device> device = device_by_id(db, device_id);
      if (!device) throw LedgerNotFound("no device with id " + std::to_string(device_id));
      const Result r = db.exec(kSelectWithDer +
                                   "WHERE device_id = $1 AND revoked_at IS NULL ORDER BY issued_at, serial "
                                   "COLLATE \"C\" FOR UPDATE",
                               Params().add(device_id));
      for (int i = 0; i < r.rows(); ++i) {
        CertificateRecord cert = certificate_from(r, i, /*with_der=*/true);
        mark_revoked(db, cert, reason, at, actor, device->name);
        all.push_back(std::move(cert));
      }
    }
    return all;
  });
}

std::vector<RevokedEntry> PostgresLedger::revoked_certificates() {
  return read([&](Connection& db) {
    const Result r = db.exec(
        "SELECT serial, revoked_at, revocation_reason FROM certificates WHERE revoked_at IS NOT NULL "
        "ORDER BY revoked_at, serial COLLATE \"C\"");
    std::vector<RevokedEntry> entries;
    for (int i = 0; i < r.rows(); ++i) {
      entries.push_back({r.text(i, 0), r.int64(i, 1), detail::reason_from_code(r.int64(i, 2))});
    }
    return entries;
  });
}

std::size_t PostgresLedger::certificate_count() {
  return read([&](Connection& db) {
    return static_cast<std::size_t>(db.exec("SELECT count(*) FROM certificates").int64(0, 0));
  });
}

void PostgresLedger::for_each_certificate(const std::function<void(const CertificateRecord&)>& fn) {
  read([&](Connection& db) {
    // No DER, and one row at a time: start-up reads every row, and the index needs none of it.
    db.stream(std::string("SELECT ") + kCertificateColumns + " FROM certificates", Params(),
              [&](const Result& r) { fn(certificate_from(r, 0, /*with_der=*/false)); });
  });
}

}  // namespace portcullis::ca::postgres
