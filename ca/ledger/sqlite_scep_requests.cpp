// The SQLite ledger: SCEP requests waiting for manual approval (table scep_requests,
// schema v4; RFC 8894 §3.3.2 PENDING, §3.3.3 CertPoll).
#include "ca/ledger/sqlite_ledger.hpp"
#include "ca/ledger/string_list.hpp"

namespace portcullis::ca {
namespace sqlite {
namespace {

// String literals (not built at run time): the statement cache is keyed by the SQL's address.
#define PORTCULLIS_SCEP_REQUEST_SELECT                                                                      \
  "SELECT id, transaction_id, requester_sha256, status, device_name, create_device, profile, subject, csr, " \
  "serial, created_at, decided_by, decided_at, reason, issued_cn, issued_sans FROM scep_requests "

ScepRequestRecord request_from_row(const Statement& row) {
  ScepRequestRecord r;
  r.id = row.column_int64(0);
  r.transaction.transaction_id = row.column_text(1);
  r.transaction.requester_sha256 = row.column_text(2);
  r.status = row.column_text(3);
  r.device_name = row.column_text(4);
  r.create_device = row.column_int64(5) != 0;
  r.profile = row.column_text(6);
  r.subject = row.column_text(7);
  r.csr_der = row.column_blob(8);
  if (!row.column_is_null(9)) r.serial = row.column_text(9);
  r.created_at = row.column_int64(10);
  if (!row.column_is_null(11)) r.decided_by = row.column_text(11);
  if (!row.column_is_null(12)) r.decided_at = row.column_int64(12);
  r.reason = row.column_text(13);
  r.cn = row.column_text(14);
  r.sans = detail::decode_string_list(row.column_text(15));
  return r;
}

}  // namespace

ScepRequestRecord SqliteLedger::create_scep_request(const NewScepRequest& request, const std::string& actor) {
  if (request.device_name.empty()) throw LedgerConflict("a SCEP request names its device");
  if (request.profile.empty()) throw LedgerConflict("a SCEP request needs a profile");
  if (request.csr_der.empty()) throw LedgerConflict("a SCEP request needs its CSR");
  const UnixTime now = now_unix();

  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  if (request.redeem_challenge_hash) {
    // The one-time challenge is spent now, with the request row, as at issuance (an
    // unbound one binds to the device), so a challenge buys exactly one request.
    const std::optional<Device> device = device_by_name_locked(request.device_name);
    if (!device) throw ChallengeRefused("challenge is unknown, expired or already used");
    spend_challenge_locked(*request.redeem_challenge_hash, device->id, now);
  }
  {
    auto stmt = db_.cached(
        "INSERT INTO scep_requests (transaction_id, requester_sha256, status, device_name, create_device, profile, "
        "subject, csr, created_at, issued_cn, issued_sans) VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    stmt->bind(1, request.transaction.transaction_id)
        .bind(2, request.transaction.requester_sha256)
        .bind(3, request.device_name)
        .bind(4, static_cast<std::int64_t>(request.create_device ? 1 : 0))
        .bind(5, request.profile)
        .bind(6, request.subject)
        .bind_blob(7, request.csr_der)
        .bind(8, now)
        .bind(9, request.cn)
        .bind(10, detail::encode_string_list(request.sans));
    try {
      stmt->run();
    } catch (const SqliteError& e) {
      if (e.extended_code() == SQLITE_CONSTRAINT_UNIQUE) throw DuplicateTransaction("SCEP transaction already has a request");
      throw;
    }
  }
  const std::int64_t id = db_.last_insert_rowid();
  insert_audit_locked({0, now, actor, "scep.pending", request.device_name,
                       "request=" + std::to_string(id) + " profile=" + request.profile +
                           " transaction=" + request.transaction.transaction_id + " subject=" + request.subject});
  std::optional<ScepRequestRecord> out = scep_request_by_id_locked(id);
  tx.commit();
  return std::move(*out);
}

std::optional<ScepRequestRecord> SqliteLedger::scep_request_by_id_locked(std::int64_t id) {
  auto stmt = db_.cached(PORTCULLIS_SCEP_REQUEST_SELECT "WHERE id = ?1");
  stmt->bind(1, id);
  if (!stmt->step()) return std::nullopt;
  return request_from_row(*stmt);
}

std::optional<ScepRequestRecord> SqliteLedger::find_scep_request(const ScepTransactionKey& key) {
  return read([&](Connection& db) -> std::optional<ScepRequestRecord> {
    auto stmt = db.cached(PORTCULLIS_SCEP_REQUEST_SELECT "WHERE transaction_id = ?1 AND requester_sha256 = ?2");
    stmt->bind(1, key.transaction_id).bind(2, key.requester_sha256);
    if (!stmt->step()) return std::nullopt;
    return request_from_row(*stmt);
  });
}

std::optional<ScepRequestRecord> SqliteLedger::find_scep_request_by_id(std::int64_t id) {
  std::lock_guard lock(mutex_);
  return scep_request_by_id_locked(id);
}

std::vector<ScepRequestRecord> SqliteLedger::list_scep_requests(const std::string& status, std::size_t limit) {
  std::lock_guard lock(mutex_);
  auto stmt = db_.cached(PORTCULLIS_SCEP_REQUEST_SELECT "WHERE (?1 = '' OR status = ?1) ORDER BY id DESC LIMIT ?2");
  stmt->bind(1, status).bind(2, static_cast<std::int64_t>(limit));
  std::vector<ScepRequestRecord> out;
  while (stmt->step()) out.push_back(request_from_row(*stmt));
  return out;
}

ScepRequestRecord SqliteLedger::reject_scep_request(std::int64_t id, const std::string& reason,
                                                    const std::string& actor) {
  const UnixTime now = now_unix();
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  std::optional<ScepRequestRecord> current = scep_request_by_id_locked(id);
  if (!current) throw LedgerNotFound("no SCEP request " + std::to_string(id));
  if (current->status != "pending") throw LedgerConflict("SCEP request " + std::to_string(id) + " is " + current->status);
  {
    auto stmt = db_.cached(
        "UPDATE scep_requests SET status = 'rejected', decided_by = ?1, decided_at = ?2, reason = ?3 "
        "WHERE id = ?4 AND status = 'pending'");
    stmt->bind(1, actor).bind(2, now).bind(3, reason).bind(4, id);
    stmt->run();
  }
  insert_audit_locked({0, now, actor, "scep.reject", current->device_name,
                       "request=" + std::to_string(id) + " transaction=" + current->transaction.transaction_id +
                           (reason.empty() ? std::string() : " reason=" + reason)});
  std::optional<ScepRequestRecord> out = scep_request_by_id_locked(id);
  tx.commit();
  return std::move(*out);
}

void SqliteLedger::approve_scep_request_locked(std::int64_t id, const CertificateRecord& record,
                                               const std::string& actor) {
  // Conditional: of two operators approving at once, exactly one issues.
  auto stmt = db_.cached(
      "UPDATE scep_requests SET status = 'approved', serial = ?1, decided_by = ?2, decided_at = ?3 "
      "WHERE id = ?4 AND status = 'pending'");
  stmt->bind(1, record.serial_hex).bind(2, actor).bind(3, record.issued_at).bind(4, id);
  stmt->run();
  if (sqlite3_changes(db_.handle()) != 1) throw LedgerConflict("SCEP request " + std::to_string(id) + " is not pending");
  insert_audit_locked({0, record.issued_at, actor, "scep.approve", record.serial_hex,
                       "request=" + std::to_string(id)});
}

}  // namespace sqlite
}  // namespace portcullis::ca
