// The embedded SQLite ledger (ca::open_sqlite_ledger). Private to ca/: everyone else
// sees only ca::Ledger.
//
// One connection for everything that writes, guarded by one mutex: SQLite runs one writer
// at a time anyway, and the ledger is not on the authentication path (the in-memory index
// is). The point lookups of a SCEP enrollment (its transaction, a held request, a
// certificate, a challenge, a device) go through a second, read-only connection with its
// own mutex: in WAL mode a reader never waits for the writer, so they do not queue behind
// a group commit's sync. Callbacks passed to for_each_* run with the writer's mutex held
// and must not call back into the ledger.
#pragma once

#include "ca/ledger/ledger.hpp"
#include "ca/ledger/sqlite_db.hpp"
#include "ca/ledger/sqlite_group_commit.hpp"

#include <mutex>
#include <optional>

namespace portcullis::ca::sqlite {

class SqliteLedger final : public Ledger {
 public:
  explicit SqliteLedger(const std::string& path);

  Device create_device(const NewDevice& device, const std::string& actor) override;
  std::optional<Device> find_device(std::int64_t id) override;
  std::optional<Device> find_device_by_name(const std::string& name) override;
  std::vector<Device> list_devices(const DeviceFilter& filter) override;
  std::size_t count_devices(const DeviceFilter& filter) override;
  Device set_device_enabled(std::int64_t id, bool enabled, const std::string& actor) override;
  Device set_device_groups(std::int64_t id, const std::vector<std::string>& groups, const std::string& actor) override;

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

  void append_audit(const AuditEntry& entry) override;
  std::vector<AuditEntry> audit(const AuditFilter& filter) override;
  void append_refusals(const std::vector<AuditEntry>& rows, std::size_t keep) override;

  void for_each_certificate(const std::function<void(const CertificateRecord&)>& fn) override;
  void for_each_device(const std::function<void(const Device&)>& fn) override;

  void record_radius_session(const RadiusSessionRow& row) override;
  std::vector<RadiusSessionRow> radius_sessions(const RadiusSessionFilter& filter) override;
  void mark_radius_sessions(const std::vector<RadiusSessionMark>& marks) override;
  std::vector<bool> claim_radius_sessions(const std::vector<RadiusSessionClaim>& sessions,
                                          const std::string& claim) override;
  std::size_t stop_radius_sessions_of_nas(const std::string& nas, const std::string& nas_address,
                                          UnixTime at) override;
  std::size_t prune_radius_sessions(UnixTime stopped_before, std::size_t max_rows) override;

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

  void append_events(const std::vector<Event>& events) override;
  std::vector<Event> events(const EventFilter& filter) override;
  EventSummary summarize_events(UnixTime since) override;
  // In chunks of kPruneChunkRows rows, each its own transaction (sqlite_events.cpp).
  std::size_t prune_events(UnixTime older_than, std::size_t max_rows) override;
  static constexpr std::size_t kPruneChunkRows = 5000;

  std::optional<NodeRow> record_node(const NodeBeat& beat) override;
  NodeList nodes() override;
  ForgetOutcome forget_node(const std::string& name, const std::string& actor) override;

  std::string integrity_check() override;
  // See open_sqlite_ledger; before the ledger is shared with other threads.
  void observe_commits(CommitObserver* observer) noexcept { db_.observe_commits(observer); }

 private:
  // Helpers below expect mutex_ held; the *_locked ones write only inside a Transaction.
  std::optional<Device> device_by_id_locked(std::int64_t id);
  std::vector<CertificateRecord> revoke_device_locked(std::int64_t device_id, RevocationReason reason, UnixTime at,
                                                      const std::string& actor);
  std::optional<Device> device_by_name_locked(const std::string& name);
  std::vector<std::string> groups_locked(std::int64_t device_id);
  Device insert_device_locked(const NewDevice& device, const std::string& actor);
  void insert_audit_locked(const AuditEntry& entry);
  ChallengeRecord mint_challenge_locked(const NewChallenge& challenge, const std::string& actor, UnixTime now);
  std::optional<CertificateRecord> certificate_locked(const std::string& canonical_serial);
  // The body of record_issuance, run by issuance_commits_ inside its transaction.
  IssuanceOutcome record_issuance_locked(const DeviceRef& ref, CertificateRecord& record, const std::string& actor);
  // The SCEP side of record_issuance (sqlite_scep_transactions.cpp), inside its transaction.
  void spend_challenge_locked(const std::string& secret_hash, std::int64_t device_id, UnixTime now);
  void redeem_for_issuance_locked(const DeviceRef& ref, const Device& device, const CertificateRecord& record,
                                  const std::string& actor);
  void approve_scep_request_locked(std::int64_t id, const CertificateRecord& record, const std::string& actor);
  std::optional<ScepRequestRecord> scep_request_by_id_locked(std::int64_t id);
  // One transaction: `sql` deletes at most kPruneChunkRows events (?1 bound, ?2 the chunk).
  std::size_t delete_events_chunk(const char* sql, std::int64_t bound);
  void mark_revoked_locked(CertificateRecord& cert, RevocationReason reason, UnixTime at, const std::string& actor,
                           const std::string& device_name);

  // Runs `lookup` on the read-only connection (on the writer for an in-memory ledger,
  // which a second connection would not see).
  template <class Lookup>
  auto read(Lookup&& lookup) {
    if (!reader_) {
      std::lock_guard lock(mutex_);
      return lookup(db_);
    }
    std::lock_guard lock(reader_mutex_);
    return lookup(*reader_);
  }

  std::mutex mutex_;
  Connection db_;
  GroupCommit issuance_commits_{mutex_, db_};   // after what it refers to
  std::mutex reader_mutex_;
  std::optional<Connection> reader_;
};

// Row mapping shared by the two translation units of the ledger.
// Columns in this order: id, name, display_name, owner, enabled, created_at.
inline constexpr const char* kDeviceColumns = "id, name, display_name, owner, enabled, created_at";
Device device_from_row(const Statement& row);
// Columns as kCertificateColumns, optionally followed by der.
inline constexpr const char* kCertificateColumns =
    "serial, device_id, profile, subject, sans, sha256_fingerprint, not_before, not_after, issued_at, revoked_at, "
    "revocation_reason";
CertificateRecord certificate_from_row(const Statement& row, bool with_der);
std::optional<CertificateRecord> certificate_by_serial(Connection& db, const std::string& canonical_serial);

// The SELECT behind SqliteLedger::events (sqlite_events.cpp), apart so that its query plan
// can be checked: ?1..?n are `texts`, then ?since_index (when filter.since), the limit and
// the offset.
struct EventQuery {
  std::string sql;
  std::vector<std::string> texts;
  int since_index = 1;
};
EventQuery event_query(const EventFilter& filter);

}  // namespace portcullis::ca::sqlite
