// The PostgreSQL ledger (ca::open_postgres_ledger): the SQLite ledger's tables and
// semantics on a database that several Portcullis nodes share. Private to ca/: everyone
// else sees only ca::Ledger.
//
// Each call borrows a connection from a small pool for its duration, so calls from
// different threads run concurrently (PostgreSQL, unlike SQLite, runs many writers);
// every mutating call is one transaction. What SQLite gets from its single writer, this
// backend gets from constraints and row locks, which also hold between nodes:
// - a serial, a fingerprint, a device name, a SCEP transaction are unique by constraint;
// - a one-time challenge is spent by a conditional UPDATE (used_at IS NULL), which under
//   READ COMMITTED waits for a concurrent redeemer and then sees its row used;
// - counters (the CRL number, the refusal rows) are single rows updated in place.
// No group commit: concurrent issuances commit on their own connections, in parallel,
// and the server batches their WAL flushes itself (commit_delay, if an operator wants it).
// Callbacks passed to for_each_* run with a connection borrowed and must not call back
// into the ledger.
#pragma once

#include "ca/ledger/ledger.hpp"
#include "ca/ledger/postgres_db.hpp"

#include <mutex>
#include <optional>
#include <type_traits>

namespace portcullis::ca::postgres {

class PostgresLedger final : public Ledger, public ChangeFeed {
 public:
  PostgresLedger(const ConnectOptions& options, std::size_t pool_size, CommitObserver* commits);

  Device create_device(const NewDevice& device, const std::string& actor) override;
  std::optional<Device> find_device(std::int64_t id) override;
  std::optional<Device> find_device_by_name(const std::string& name) override;
  std::vector<Device> list_devices(const DeviceFilter& filter) override;
  std::size_t count_devices(const DeviceFilter& filter) override;
  Device set_device_enabled(std::int64_t id, bool enabled, const std::string& actor) override;
  Device set_device_groups(std::int64_t id, const std::vector<std::string>& groups, const std::string& actor) override;
  void for_each_device(const std::function<void(const Device&)>& fn) override;

  IssuanceOutcome record_issuance(const DeviceRef& device, CertificateRecord record,
                                  const std::string& actor) override;
  std::optional<CertificateRecord> find_certificate(const std::string& serial_hex) override;
  std::vector<CertificateRecord> list_certificates(const CertificateFilter& filter) override;
  RevocationOutcome revoke(const std::string& serial_hex, RevocationReason reason, UnixTime at,
                           const std::string& actor) override;
  std::vector<CertificateRecord> revoke_device(std::int64_t device_id, RevocationReason reason, UnixTime at,
                                               const std::string& actor) override;
  std::vector<CertificateRecord> revoke_devices(const std::vector<std::int64_t>& device_ids, RevocationReason reason,
                                                UnixTime at, const std::string& actor) override;
  std::vector<RevokedEntry> revoked_certificates() override;
  std::size_t certificate_count() override;
  std::int64_t next_crl_number() override;
  void for_each_certificate(const std::function<void(const CertificateRecord&)>& fn) override;

  void append_audit(const AuditEntry& entry) override;
  std::vector<AuditEntry> audit(const AuditFilter& filter) override;
  void append_refusals(const std::vector<AuditEntry>& rows, std::size_t keep) override;

  ChallengeRecord mint_challenge(const NewChallenge& challenge, const std::string& actor) override;
  std::vector<ChallengeRecord> mint_challenges(const std::vector<NewChallenge>& challenges,
                                               const std::string& actor) override;
  std::optional<ChallengeRecord> find_challenge(const std::string& secret_hash) override;
  std::optional<std::string> find_scep_transaction(const ScepTransactionKey& key) override;
  bool scep_transaction_known(const ScepTransactionKey& key) override;
  ScepRequestRecord create_scep_request(const NewScepRequest& request, const std::string& actor) override;
  std::optional<ScepRequestRecord> find_scep_request(const ScepTransactionKey& key) override;
  std::optional<ScepRequestRecord> find_scep_request_by_id(std::int64_t id) override;
  std::vector<ScepRequestRecord> list_scep_requests(const std::string& status, std::size_t limit) override;
  ScepRequestRecord reject_scep_request(std::int64_t id, const std::string& reason, const std::string& actor) override;

  void record_radius_session(const RadiusSessionRow& row) override;
  std::vector<RadiusSessionRow> radius_sessions(const RadiusSessionFilter& filter) override;
  void mark_radius_sessions(const std::vector<RadiusSessionMark>& marks) override;
  std::vector<bool> claim_radius_sessions(const std::vector<RadiusSessionClaim>& sessions,
                                          const std::string& claim) override;
  std::size_t stop_radius_sessions_of_nas(const std::string& nas, const std::string& nas_address,
                                          UnixTime at) override;
  std::size_t prune_radius_sessions(UnixTime stopped_before, std::size_t max_rows) override;

  void append_events(const std::vector<Event>& events) override;
  std::vector<Event> events(const EventFilter& filter) override;
  EventSummary summarize_events(UnixTime since) override;
  std::size_t prune_events(UnixTime older_than, std::size_t max_rows) override;

  std::optional<NodeRow> record_node(const NodeBeat& beat) override;
  NodeList nodes() override;
  ForgetOutcome forget_node(const std::string& name, const std::string& actor) override;

  std::string integrity_check() override;

  ChangeFeed* change_feed() override { return this; }
  std::vector<LedgerChange> changes_after(std::int64_t after, std::size_t limit) override;
  std::int64_t last_change() override;
  bool wait_for_change(std::chrono::milliseconds timeout) override;

 private:
  // Runs `work(Connection&)` on a borrowed connection. A read is idempotent: when the
  // connection turns out to be dead (the server restarted since it was last used), it is
  // run once more on a fresh one.
  template <class Work>
  auto read(Work&& work) {
    for (int attempt = 0;; ++attempt) {
      Pool::Lease lease = pool_.acquire();
      try {
        return work(*lease);
      } catch (const PgError& e) {
        if (!lease->broken()) throw;
        if (attempt > 0) throw LedgerUnavailable(e.what());
      }
    }
  }
  // Runs `work(Connection&)` in one transaction and commits it. Retried on a fresh
  // connection only when BEGIN itself found the connection dead: after that the outcome of
  // a lost COMMIT is unknown, and the caller gets the error.
  template <class Work>
  auto write(Work&& work) {
    for (int attempt = 0;; ++attempt) {
      Pool::Lease lease = pool_.acquire();
      std::optional<Transaction> tx;
      try {
        tx.emplace(*lease);
      } catch (const PgError& e) {
        if (!lease->broken()) throw;
        if (attempt > 0) throw LedgerUnavailable(e.what());
        continue;   // the dead connection is dropped with its lease
      }
      try {
        if constexpr (std::is_void_v<decltype(work(*lease))>) {
          work(*lease);
          tx->commit();
          return;
        } else {
          auto result = work(*lease);
          tx->commit();
          return result;
        }
      } catch (const PgError& e) {
        // Lost mid-transaction: rolled back by the server, unless COMMIT itself was lost,
        // whose outcome is unknown (the message says which statement failed).
        if (lease->broken()) throw LedgerUnavailable(e.what());
        // Class 53, insufficient resources (53100 disk_full): nothing was written, and the
        // same write succeeds once the server has room again.
        if (e.sqlstate().starts_with("53")) throw LedgerFull(e.what());
        throw;
      }
    }
  }

  Pool pool_;
  const ConnectOptions options_;
  std::mutex listen_mutex_;                 // wait_for_change: one caller at a time
  std::optional<Connection> listener_;      // LISTEN portcullis_changes, outside the pool
};

// Row mapping and statements shared by the translation units of the ledger; `db` is
// inside the caller's transaction where they write.
inline constexpr const char* kDeviceColumns = "id, name, display_name, owner, enabled, created_at";
Device device_from(const Result& r, int row);   // kDeviceColumns at columns 0..5
std::optional<Device> device_by_id(Connection& db, std::int64_t id, bool for_share = false);
// FOR SHARE (postgres_ledger.cpp says why).
std::optional<Device> device_by_name(Connection& db, const std::string& name);
// Inserts the device, its groups and the "device.create" audit row; LedgerConflict when
// the name is taken.
Device insert_device(Connection& db, const NewDevice& device, const std::string& actor);
// The device named `name`, created when missing, also when another node creates it at
// the same moment. `created` tells which.
Device device_by_name_or_insert(Connection& db, const NewDevice& device, const std::string& actor, bool& created);
void insert_audit(Connection& db, const AuditEntry& entry);
// Records in the transaction that `key` of `kind` (change_feed.hpp) changed, and notifies
// every listening node when it commits (NOTIFY is delivered at COMMIT, never for a
// rollback).
void record_change(Connection& db, const char* kind, const std::string& key);

inline constexpr const char* kCertificateColumns =
    "serial, device_id, profile, subject, sans, sha256_fingerprint, not_before, not_after, issued_at, revoked_at, "
    "revocation_reason";
// kCertificateColumns at columns 0..10, optionally followed by der.
CertificateRecord certificate_from(const Result& r, int row, bool with_der);

// The SCEP side of an issuance (postgres_scep.cpp), inside its transaction.
void redeem_for_issuance(Connection& db, const DeviceRef& ref, const Device& device, const CertificateRecord& record,
                         const std::string& actor);

}  // namespace portcullis::ca::postgres
