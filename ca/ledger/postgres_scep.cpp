// The PostgreSQL ledger: SCEP one-time challenges (RFC 8894 §2.3), transactions
// (§3.2.1.1 transactionID) and the requests held for manual approval (§3.3.2 PENDING).
#include "ca/ledger/ledger_rules.hpp"
#include "ca/ledger/postgres_ledger.hpp"
#include "ca/ledger/string_list.hpp"

namespace portcullis::ca::postgres {
namespace {

constexpr const char* kChallengeSelect =
    "SELECT c.id, c.secret_hash, c.device_id, coalesce(d.name, ''), c.profile, c.cn, c.created_by, c.created_at, "
    "c.expires_at, c.used_at, c.sans FROM challenges c LEFT JOIN devices d ON d.id = c.device_id "
    "WHERE c.secret_hash = $1";

constexpr const char* kRequestSelect =
    "SELECT id, transaction_id, requester_sha256, status, device_name, create_device, profile, subject, csr, "
    "serial, created_at, decided_by, decided_at, reason, issued_cn, issued_sans FROM scep_requests ";

// The constraints that make a SCEP transaction exactly-once, by PostgreSQL's names.
constexpr const char* kTransactionKey = "scep_transactions_pkey";
constexpr const char* kRequestKey = "scep_requests_transaction_id_requester_sha256_key";

ChallengeRecord challenge_from(const Result& r) {
  ChallengeRecord c;
  c.id = r.int64(0, 0);
  c.secret_hash = r.text(0, 1);
  c.device_id = r.is_null(0, 2) ? 0 : r.int64(0, 2);
  c.device_name = r.text(0, 3);
  c.profile = r.text(0, 4);
  if (!r.is_null(0, 5)) c.cn = r.text(0, 5);
  c.created_by = r.text(0, 6);
  c.created_at = r.int64(0, 7);
  c.expires_at = r.int64(0, 8);
  c.used_at = r.optional_int64(0, 9);
  c.sans = detail::decode_string_list(r.text(0, 10));
  return c;
}

ScepRequestRecord request_from(const Result& r, int row) {
  ScepRequestRecord q;
  q.id = r.int64(row, 0);
  q.transaction.transaction_id = r.text(row, 1);
  q.transaction.requester_sha256 = r.text(row, 2);
  q.status = r.text(row, 3);
  q.device_name = r.text(row, 4);
  q.create_device = r.boolean(row, 5);
  q.profile = r.text(row, 6);
  q.subject = r.text(row, 7);
  q.csr_der = r.bytes(row, 8);
  if (!r.is_null(row, 9)) q.serial = r.text(row, 9);
  q.created_at = r.int64(row, 10);
  if (!r.is_null(row, 11)) q.decided_by = r.text(row, 11);
  q.decided_at = r.optional_int64(row, 12);
  q.reason = r.text(row, 13);
  q.cn = r.text(row, 14);
  q.sans = detail::decode_string_list(r.text(row, 15));
  return q;
}

std::optional<ScepRequestRecord> request_by_id(Connection& db, std::int64_t id, bool for_update) {
  const Result r = db.exec(std::string(kRequestSelect) + "WHERE id = $1" + (for_update ? " FOR UPDATE" : ""),
                           Params().add(id));
  if (r.rows() == 0) return std::nullopt;
  return request_from(r, 0);
}

// One conditional UPDATE: of two enrollments racing for the same challenge, on one node
// or two, the second waits for the first's row lock, re-checks `used_at IS NULL` on the
// committed row (READ COMMITTED) and changes nothing; exactly one redeems it.
// An unbound challenge (an MDM's dynamic one) is bound here, to the device it is spent for.
void spend_challenge(Connection& db, const std::string& secret_hash, std::int64_t device_id, UnixTime now) {
  const Result r = db.exec(
      "UPDATE challenges SET used_at = $1, device_id = $3 WHERE secret_hash = $2 AND used_at IS NULL "
      "AND expires_at > $1 AND (device_id = $3 OR device_id IS NULL)",
      Params().add(now).add(secret_hash).add(device_id));
  if (r.affected() != 1) throw ChallengeRefused("challenge is unknown, expired or already used");
}

void approve_request(Connection& db, std::int64_t id, const CertificateRecord& record, const std::string& actor) {
  // Conditional: of two operators approving at once, exactly one issues.
  const Result r = db.exec(
      "UPDATE scep_requests SET status = 'approved', serial = $1, decided_by = $2, decided_at = $3 "
      "WHERE id = $4 AND status = 'pending'",
      Params().add(record.serial_hex).add(actor).add(record.issued_at).add(id));
  if (r.affected() != 1) throw LedgerConflict("SCEP request " + std::to_string(id) + " is not pending");
  insert_audit(db, {0, record.issued_at, actor, "scep.approve", record.serial_hex, "request=" + std::to_string(id)});
}

// One challenge row (its device created when missing) and its audit row, inside the
// caller's transaction.
ChallengeRecord mint_challenge_in(Connection& db, const NewChallenge& challenge, const std::string& actor,
                                  UnixTime now) {
  // No device name: bound to the device its first use names (NewChallenge::device_name).
  std::optional<Device> device;
  if (!challenge.device_name.empty()) {
    bool created = false;
    device = device_by_name_or_insert(db, NewDevice{challenge.device_name, {}, {}, {}}, actor, created);
  }
  std::int64_t id = 0;
  try {
    id = db.exec(
               "INSERT INTO challenges (secret_hash, device_id, profile, cn, created_by, created_at, expires_at, "
               "sans) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
               Params()
                   .add(challenge.secret_hash)
                   .add(device ? std::optional<std::int64_t>(device->id) : std::nullopt)
                   .add(challenge.profile)
                   .add(challenge.cn)
                   .add(actor)
                   .add(now)
                   .add(challenge.expires_at)
                   .add(detail::encode_string_list(challenge.sans)))
             .int64(0, 0);
  } catch (const PgError& e) {
    if (e.unique_violation()) throw LedgerConflict("a challenge with that secret already exists");
    throw;
  }
  ChallengeRecord out;
  out.id = id;
  out.secret_hash = challenge.secret_hash;
  out.device_id = device ? device->id : 0;
  out.device_name = device ? device->name : std::string();
  out.profile = challenge.profile;
  out.cn = challenge.cn;
  out.sans = challenge.sans;
  out.created_by = actor;
  out.created_at = now;
  out.expires_at = challenge.expires_at;
  // The audit names the challenge by row id: the hash is not a secret, but has no use there.
  insert_audit(db, {0, now, actor, "challenge.mint", device ? device->name : std::string("(unbound)"),
                    "id=" + std::to_string(out.id) + " profile=" + challenge.profile +
                        " expires_at=" + std::to_string(challenge.expires_at)});
  return out;
}

}  // namespace

// --- challenges ---------------------------------------------------------------------------

ChallengeRecord PostgresLedger::mint_challenge(const NewChallenge& challenge, const std::string& actor) {
  const UnixTime now = now_unix();
  detail::validate_new_challenge(challenge, now);
  return write([&](Connection& db) { return mint_challenge_in(db, challenge, actor, now); });
}

std::vector<ChallengeRecord> PostgresLedger::mint_challenges(const std::vector<NewChallenge>& challenges,
                                                             const std::string& actor) {
  const UnixTime now = now_unix();
  for (const auto& c : challenges) detail::validate_new_challenge(c, now);
  return write([&](Connection& db) {
    std::vector<ChallengeRecord> out;
    out.reserve(challenges.size());
    for (const auto& c : challenges) out.push_back(mint_challenge_in(db, c, actor, now));
    return out;
  });
}

std::optional<ChallengeRecord> PostgresLedger::find_challenge(const std::string& secret_hash) {
  return read([&](Connection& db) -> std::optional<ChallengeRecord> {
    const Result r = db.exec(kChallengeSelect, Params().add(secret_hash));
    if (r.rows() == 0) return std::nullopt;
    return challenge_from(r);
  });
}

// --- transactions -----------------------------------------------------------------------

std::optional<std::string> PostgresLedger::find_scep_transaction(const ScepTransactionKey& key) {
  return read([&](Connection& db) -> std::optional<std::string> {
    const Result r = db.exec(
        "SELECT serial FROM scep_transactions WHERE transaction_id = $1 AND requester_sha256 = $2 "
        "AND serial IS NOT NULL",
        Params().add(key.transaction_id).add(key.requester_sha256));
    if (r.rows() == 0) return std::nullopt;
    return r.text(0, 0);
  });
}

bool PostgresLedger::scep_transaction_known(const ScepTransactionKey& key) {
  return read([&](Connection& db) {
    const Result r = db.exec(
        "SELECT EXISTS (SELECT 1 FROM scep_transactions WHERE transaction_id = $1 AND requester_sha256 = $2) "
        "OR EXISTS (SELECT 1 FROM scep_requests WHERE transaction_id = $1 AND requester_sha256 = $2)",
        Params().add(key.transaction_id).add(key.requester_sha256));
    return r.boolean(0, 0);
  });
}

void redeem_for_issuance(Connection& db, const DeviceRef& ref, const Device& device, const CertificateRecord& record,
                         const std::string& actor) {
  const UnixTime now = record.issued_at;
  if (ref.redeem_challenge_hash) spend_challenge(db, *ref.redeem_challenge_hash, device.id, now);
  if (ref.scep_transaction) {
    // The primary key decides between two nodes answering the same transaction: the
    // second waits for the first's insert and fails, and answers with its certificate.
    try {
      db.exec(
          "INSERT INTO scep_transactions (transaction_id, requester_sha256, status, serial, created_at) "
          "VALUES ($1, $2, 'issued', $3, $4)",
          Params()
              .add(ref.scep_transaction->transaction_id)
              .add(ref.scep_transaction->requester_sha256)
              .add(record.serial_hex)
              .add(now));
    } catch (const PgError& e) {
      if (e.unique_violation() && e.constraint() == kTransactionKey) {
        throw DuplicateTransaction("SCEP transaction already answered");
      }
      throw;
    }
  }
  if (ref.approve_scep_request) approve_request(db, *ref.approve_scep_request, record, actor);
}

// --- held requests ------------------------------------------------------------------------

ScepRequestRecord PostgresLedger::create_scep_request(const NewScepRequest& request, const std::string& actor) {
  if (request.device_name.empty()) throw LedgerConflict("a SCEP request names its device");
  if (request.profile.empty()) throw LedgerConflict("a SCEP request needs a profile");
  if (request.csr_der.empty()) throw LedgerConflict("a SCEP request needs its CSR");
  const UnixTime now = now_unix();
  return write([&](Connection& db) {
    if (request.redeem_challenge_hash) {
      // The one-time challenge is spent now, with the request row: a challenge buys
      // exactly one request.
      const std::optional<Device> device = device_by_name(db, request.device_name);
      if (!device) throw ChallengeRefused("challenge is unknown, expired or already used");
      spend_challenge(db, *request.redeem_challenge_hash, device->id, now);
    }
    std::int64_t id = 0;
    try {
      id = db.exec(
                 "INSERT INTO scep_requests (transaction_id, requester_sha256, status, device_name, create_device, "
                 "profile, subject, csr, created_at, issued_cn, issued_sans) "
                 "VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                 Params()
                     .add(request.transaction.transaction_id)
                     .add(request.transaction.requester_sha256)
                     .add(request.device_name)
                     .add(request.create_device)
                     .add(request.profile)
                     .add(request.subject)
                     .add_bytes(request.csr_der)
                     .add(now)
                     .add(request.cn)
                     .add(detail::encode_string_list(request.sans)))
               .int64(0, 0);
    } catch (const PgError& e) {
      if (e.unique_violation() && e.constraint() == kRequestKey) {
        throw DuplicateTransaction("SCEP transaction already has a request");
      }
      throw;
    }
    insert_audit(db, {0, now, actor, "scep.pending", request.device_name,
                      "request=" + std::to_string(id) + " profile=" + request.profile +
                          " transaction=" + request.transaction.transaction_id + " subject=" + request.subject});
    return std::move(*request_by_id(db, id, /*for_update=*/false));
  });
}

std::optional<ScepRequestRecord> PostgresLedger::find_scep_request(const ScepTransactionKey& key) {
  return read([&](Connection& db) -> std::optional<ScepRequestRecord> {
    const Result r = db.exec(std::string(kRequestSelect) + "WHERE transaction_id = $1 AND requester_sha256 = $2",
                             Params().add(key.transaction_id).add(key.requester_sha256));
    if (r.rows() == 0) return std::nullopt;
    return request_from(r, 0);
  });
}

std::optional<ScepRequestRecord> PostgresLedger::find_scep_request_by_id(std::int64_t id) {
  return read([&](Connection& db) { return request_by_id(db, id, /*for_update=*/false); });
}

std::vector<ScepRequestRecord> PostgresLedger::list_scep_requests(const std::string& status, std::size_t limit) {
  return read([&](Connection& db) {
    const Result r = db.exec(std::string(kRequestSelect) + "WHERE ($1 = '' OR status = $1) ORDER BY id DESC LIMIT $2",
                             Params().add(status).add(detail::clamp_count(limit)));
    std::vector<ScepRequestRecord> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(request_from(r, i));
    return out;
  });
}

ScepRequestRecord PostgresLedger::reject_scep_request(std::int64_t id, const std::string& reason,
                                                      const std::string& actor) {
  const UnixTime now = now_unix();
  return write([&](Connection& db) {
    const std::optional<ScepRequestRecord> current = request_by_id(db, id, /*for_update=*/true);
    if (!current) throw LedgerNotFound("no SCEP request " + std::to_string(id));
    if (current->status != "pending") {
      throw LedgerConflict("SCEP request " + std::to_string(id) + " is " + current->status);
    }
    db.exec(
        "UPDATE scep_requests SET status = 'rejected', decided_by = $1, decided_at = $2, reason = $3 "
        "WHERE id = $4 AND status = 'pending'",
        Params().add(actor).add(now).add(reason).add(id));
    insert_audit(db, {0, now, actor, "scep.reject", current->device_name,
                      "request=" + std::to_string(id) + " transaction=" + current->transaction.transaction_id +
                          (reason.empty() ? std::string() : " reason=" + reason)});
    return std::move(*request_by_id(db, id, /*for_update=*/false));
  });
}

}  // namespace portcullis::ca::postgres
