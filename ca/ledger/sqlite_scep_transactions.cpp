// The SQLite ledger: SCEP one-time challenges (table challenges, schema v2) and SCEP
// transactions (table scep_transactions, schema v3).
#include "ca/ledger/ledger_rules.hpp"
#include "ca/ledger/sqlite_ledger.hpp"
#include "ca/ledger/string_list.hpp"

namespace portcullis::ca {

namespace sqlite {
namespace {

constexpr const char* kChallengeSelect =
    "SELECT c.id, c.secret_hash, c.device_id, coalesce(d.name, ''), c.profile, c.cn, c.created_by, c.created_at, "
    "c.expires_at, c.used_at, c.sans FROM challenges c LEFT JOIN devices d ON d.id = c.device_id WHERE c.secret_hash = ?1";

ChallengeRecord challenge_from_row(const Statement& row) {
  ChallengeRecord c;
  c.id = row.column_int64(0);
  c.secret_hash = row.column_text(1);
  c.device_id = row.column_is_null(2) ? 0 : row.column_int64(2);
  c.device_name = row.column_text(3);
  c.profile = row.column_text(4);
  if (!row.column_is_null(5)) c.cn = row.column_text(5);
  c.created_by = row.column_text(6);
  c.created_at = row.column_int64(7);
  c.expires_at = row.column_int64(8);
  if (!row.column_is_null(9)) c.used_at = row.column_int64(9);
  c.sans = detail::decode_string_list(row.column_text(10));
  return c;
}

}  // namespace

ChallengeRecord SqliteLedger::mint_challenge(const NewChallenge& challenge, const std::string& actor) {
  const UnixTime now = now_unix();
  detail::validate_new_challenge(challenge, now);

  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  ChallengeRecord out = mint_challenge_locked(challenge, actor, now);
  tx.commit();
  return out;
}

std::vector<ChallengeRecord> SqliteLedger::mint_challenges(const std::vector<NewChallenge>& challenges,
                                                           const std::string& actor) {
  const UnixTime now = now_unix();
  for (const auto& c : challenges) detail::validate_new_challenge(c, now);

  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  std::vector<ChallengeRecord> out;
  out.reserve(challenges.size());
  for (const auto& c : challenges) out.push_back(mint_challenge_locked(c, actor, now));
  tx.commit();
  return out;
}

ChallengeRecord SqliteLedger::mint_challenge_locked(const NewChallenge& challenge, const std::string& actor,
                                                    UnixTime now) {
  // No device name: bound to the device its first use names (NewChallenge::device_name).
  std::optional<Device> device;
  if (!challenge.device_name.empty()) {
    device = device_by_name_locked(challenge.device_name);
    if (!device) device = insert_device_locked(NewDevice{challenge.device_name, {}, {}, {}}, actor);
  }
  {
    auto stmt = db_.cached(
        "INSERT INTO challenges (secret_hash, device_id, profile, cn, created_by, created_at, expires_at, sans) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    stmt->bind(1, challenge.secret_hash).bind(3, challenge.profile);
    if (device) {
      stmt->bind(2, device->id);
    } else {
      stmt->bind_null(2);
    }
    if (challenge.cn) {
      stmt->bind(4, *challenge.cn);
    } else {
      stmt->bind_null(4);
    }
    stmt->bind(5, actor)
        .bind(6, now)
        .bind(7, challenge.expires_at)
        .bind(8, detail::encode_string_list(challenge.sans));
    try {
      stmt->run();
    } catch (const SqliteError& e) {
      if (e.extended_code() == SQLITE_CONSTRAINT_UNIQUE) throw LedgerConflict("a challenge with that secret already exists");
      throw;
    }
  }
  ChallengeRecord out;
  out.id = db_.last_insert_rowid();
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
  insert_audit_locked({0, now, actor, "challenge.mint", device ? device->name : std::string("(unbound)"),
                       "id=" + std::to_string(out.id) + " profile=" + challenge.profile +
                           " expires_at=" + std::to_string(challenge.expires_at)});
  return out;
}

std::optional<ChallengeRecord> SqliteLedger::find_challenge(const std::string& secret_hash) {
  return read([&](Connection& db) -> std::optional<ChallengeRecord> {
    auto stmt = db.cached(kChallengeSelect);
    stmt->bind(1, secret_hash);
    if (!stmt->step()) return std::nullopt;
    return challenge_from_row(*stmt);
  });
}

std::optional<std::string> SqliteLedger::find_scep_transaction(const ScepTransactionKey& key) {
  return read([&](Connection& db) -> std::optional<std::string> {
    auto stmt = db.cached(
        "SELECT serial FROM scep_transactions WHERE transaction_id = ?1 AND requester_sha256 = ?2 "
        "AND serial IS NOT NULL");
    stmt->bind(1, key.transaction_id).bind(2, key.requester_sha256);
    if (!stmt->step()) return std::nullopt;
    return stmt->column_text(0);
  });
}

bool SqliteLedger::scep_transaction_known(const ScepTransactionKey& key) {
  return read([&](Connection& db) {
    auto stmt = db.cached(
        "SELECT EXISTS (SELECT 1 FROM scep_transactions WHERE transaction_id = ?1 AND requester_sha256 = ?2) "
        "OR EXISTS (SELECT 1 FROM scep_requests WHERE transaction_id = ?1 AND requester_sha256 = ?2)");
    stmt->bind(1, key.transaction_id).bind(2, key.requester_sha256);
    return stmt->step() && stmt->column_int64(0) != 0;
  });
}

// One conditional UPDATE: two enrollments racing for the same challenge cannot both see
// it unused (SQLite serialises writers), so exactly one of them redeems it. An unbound
// challenge is bound here, to the device it is redeemed for.
void SqliteLedger::spend_challenge_locked(const std::string& secret_hash, std::int64_t device_id, UnixTime now) {
  auto stmt = db_.cached(
      "UPDATE challenges SET used_at = ?1, device_id = ?3 WHERE secret_hash = ?2 AND used_at IS NULL "
      "AND expires_at > ?1 AND (device_id = ?3 OR device_id IS NULL)");
  stmt->bind(1, now).bind(2, secret_hash).bind(3, device_id);
  stmt->run();
  if (sqlite3_changes(db_.handle()) != 1) throw ChallengeRefused("challenge is unknown, expired or already used");
}

void SqliteLedger::redeem_for_issuance_locked(const DeviceRef& ref, const Device& device,
                                              const CertificateRecord& record, const std::string& actor) {
  const UnixTime now = record.issued_at;
  if (ref.redeem_challenge_hash) spend_challenge_locked(*ref.redeem_challenge_hash, device.id, now);
  if (ref.scep_transaction) {
    auto stmt = db_.cached(
        "INSERT INTO scep_transactions (transaction_id, requester_sha256, status, serial, created_at) "
        "VALUES (?1, ?2, 'issued', ?3, ?4)");
    stmt->bind(1, ref.scep_transaction->transaction_id)
        .bind(2, ref.scep_transaction->requester_sha256)
        .bind(3, record.serial_hex)
        .bind(4, now);
    try {
      stmt->run();
    } catch (const SqliteError& e) {
      if (e.extended_code() == SQLITE_CONSTRAINT_PRIMARYKEY) {
        throw DuplicateTransaction("SCEP transaction already answered");
      }
      throw;
    }
  }
  if (ref.approve_scep_request) approve_scep_request_locked(*ref.approve_scep_request, record, actor);
}

}  // namespace sqlite
}  // namespace portcullis::ca
