// The ledger: the durable record of devices, certificates, revocations, challenges, SCEP
// transactions, RADIUS sessions, the audit log, the decision events and the nodes' heartbeats. Each concern has its own narrow
// interface (devices.hpp, certificates.hpp, …) so that a caller names only what it uses,
// a feature adds a file rather than a method here, and a second backend (PostgreSQL,
// several nodes on one ledger) implements the same interfaces.
//
// Every mutating call is one transaction: it either commits whole (data + audit row) or
// throws (errors.hpp) and leaves nothing behind.
#pragma once

#include "ca/ledger/audit.hpp"
#include "ca/ledger/certificates.hpp"
#include "ca/ledger/change_feed.hpp"
#include "ca/ledger/challenges.hpp"
#include "ca/ledger/commit_observer.hpp"
#include "ca/ledger/devices.hpp"
#include "ca/ledger/errors.hpp"
#include "ca/ledger/events.hpp"
#include "ca/ledger/nodes.hpp"
#include "ca/ledger/radius_sessions.hpp"
#include "ca/ledger/scep_transactions.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace portcullis::ca {

class Ledger : public DeviceStore,
               public CertificateStore,
               public AuditLog,
               public ChallengeStore,
               public ScepTransactionStore,
               public RadiusSessionStore,
               public EventStore,
               public NodeStore {
 public:
  ~Ledger() override = default;

  // Maintenance.
  virtual std::string integrity_check() = 0;  // "ok" when healthy

  // Changes other nodes committed, for a ledger several nodes share; null for one that
  // only this process writes (SQLite).
  virtual ChangeFeed* change_feed() { return nullptr; }
};

// Opens (creating and migrating as needed) the SQLite ledger at `path`.
// Refuses, with a clear message, a ledger written by a newer schema version. `commits`
// (may be null; must outlive the ledger) is told how long each write transaction's
// COMMIT took (commit_observer.hpp).
std::unique_ptr<Ledger> open_sqlite_ledger(const std::string& path, CommitObserver* commits = nullptr);

// Where the PostgreSQL ledger is. `url`: a libpq connection URI or string, without a
// password; `password` empty: libpq's PGPASSFILE / ~/.pgpass. Never logged.
struct PostgresLedgerOptions {
  std::string url;
  std::string password;
  std::size_t pool_size = 8;   // connections this process opens at most
};

// Connects to the PostgreSQL ledger, creating or migrating its schema (schema versions
// are shared with SQLite). Refuses, with a clear message, a ledger written by a newer
// schema version and a url that carries a password.
std::unique_ptr<Ledger> open_postgres_ledger(const PostgresLedgerOptions& options, CommitObserver* commits = nullptr);

}  // namespace portcullis::ca
