#include "ca/ledger/schema.hpp"

#include <array>
#include <string>

namespace portcullis::ca::sqlite {
namespace {

// Tables are STRICT (https://sqlite.org/stricttables.html): a value of the wrong type is
// an error instead of being stored silently, which matters for a CA's record.
// Times are INTEGER seconds since the epoch, UTC.

// Version 1: devices, certificates, the audit log and the CRL number.
constexpr const char* kVersion1 = R"sql(
CREATE TABLE devices (
  id           INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE,
  display_name TEXT    NOT NULL DEFAULT '',
  owner        TEXT    NOT NULL DEFAULT '',
  enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at   INTEGER NOT NULL
) STRICT;

-- Groups/tags as rows rather than a JSON column: policy rules and the admin search ask
-- "which devices are in group G", which this index answers directly.
CREATE TABLE device_groups (
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  name      TEXT    NOT NULL,
  PRIMARY KEY (device_id, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX device_groups_by_name ON device_groups(name);

CREATE TABLE certificates (
  serial             TEXT    PRIMARY KEY NOT NULL,  -- canonical uppercase hex, see serial_text.hpp
  device_id          INTEGER NOT NULL REFERENCES devices(id),
  profile            TEXT    NOT NULL,
  subject            TEXT    NOT NULL,
  sans               TEXT    NOT NULL DEFAULT '[]',  -- JSON array of "DNS:…", "URI:…" strings
  sha256_fingerprint TEXT    NOT NULL UNIQUE,
  not_before         INTEGER NOT NULL,
  not_after          INTEGER NOT NULL,
  issued_at          INTEGER NOT NULL,
  revoked_at         INTEGER,                        -- NULL while not revoked
  revocation_reason  INTEGER,                        -- RFC 5280 §5.3.1 CRLReason
  der                BLOB    NOT NULL,
  CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
) STRICT;
CREATE INDEX certificates_by_device ON certificates(device_id);
CREATE INDEX certificates_by_not_after ON certificates(not_after);
CREATE INDEX certificates_by_issued_at ON certificates(issued_at, serial);
-- The CRL lists revoked certificates only; keep that scan off the full table.
CREATE INDEX certificates_revoked ON certificates(revoked_at) WHERE revoked_at IS NOT NULL;

-- Append-only: AUTOINCREMENT so ids are never reused, and triggers that refuse any
-- UPDATE or DELETE, so not even a bug in our own code can rewrite history.
CREATE TABLE audit (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at     INTEGER NOT NULL,
  actor  TEXT    NOT NULL,
  action TEXT    NOT NULL,
  target TEXT    NOT NULL DEFAULT '',
  detail TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_by_target ON audit(target, id);
CREATE INDEX audit_by_action ON audit(action, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- Counters. crl_number: RFC 5280 §5.2.3, monotonically increasing, never reused.
CREATE TABLE meta (
  key   TEXT    PRIMARY KEY NOT NULL,
  value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('crl_number', 0);
)sql";

// Version 2: SCEP enrollment challenges and RADIUS accounting sessions.
constexpr const char* kVersion2 = R"sql(
-- One-time SCEP challenge passwords (RFC 8894 §2.3). Only a hash of the secret is kept;
-- the binding columns restrict what a challenge may be used for.
CREATE TABLE challenges (
  id          INTEGER PRIMARY KEY,
  secret_hash TEXT    NOT NULL UNIQUE,
  device_id   INTEGER REFERENCES devices(id),
  profile     TEXT    NOT NULL,
  cn          TEXT,                 -- when set, the CSR's subject CN must equal it
  created_by  TEXT    NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER               -- NULL until redeemed; redeemed at most once
) STRICT;
CREATE INDEX challenges_by_expiry ON challenges(expires_at);

-- Live and recent RADIUS accounting sessions per certificate (RFC 2866): what an
-- RFC 5176 Disconnect-Request needs when that certificate is revoked.
CREATE TABLE radius_sessions (
  id                 INTEGER PRIMARY KEY,
  serial             TEXT    NOT NULL,
  nas                TEXT    NOT NULL,
  acct_session_id    TEXT    NOT NULL,
  calling_station_id TEXT    NOT NULL DEFAULT '',
  user_name          TEXT    NOT NULL DEFAULT '',
  started_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  stopped_at         INTEGER,
  UNIQUE (nas, acct_session_id)
) STRICT;
CREATE INDEX radius_sessions_live_by_serial ON radius_sessions(serial) WHERE stopped_at IS NULL;
)sql";

// Version 3: SCEP transactions (RFC 8894 §3.2.1.1 transactionID), so that a retransmitted
// PKCSReq or a CertPoll after a restart is answered with the certificate already issued.
// Keyed with the hash of the requester's signing certificate: a transactionID alone is
// chosen by the client.
// `status` leaves room for requests waiting for manual approval.
constexpr const char* kVersion3 = R"sql(
CREATE TABLE scep_transactions (
  transaction_id      TEXT    NOT NULL,
  requester_sha256    TEXT    NOT NULL,
  status              TEXT    NOT NULL CHECK (status IN ('issued')),
  serial              TEXT    REFERENCES certificates(serial),
  created_at          INTEGER NOT NULL,
  PRIMARY KEY (transaction_id, requester_sha256)
) STRICT, WITHOUT ROWID;
)sql";

// Version 4: SCEP requests waiting for manual approval (RFC 8894 §3.3.2 PENDING). The
// row keeps what issuance needs at approval time (CSR, profile, device); an approved
// request also gets its scep_transactions row, so polls are answered from there.
constexpr const char* kVersion4 = R"sql(
CREATE TABLE scep_requests (
  id                  INTEGER PRIMARY KEY,
  transaction_id      TEXT    NOT NULL,
  requester_sha256    TEXT    NOT NULL,
  status              TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
  device_name         TEXT    NOT NULL,
  create_device       INTEGER NOT NULL CHECK (create_device IN (0, 1)),
  profile             TEXT    NOT NULL,
  subject             TEXT    NOT NULL,
  csr                 BLOB    NOT NULL,
  serial              TEXT    REFERENCES certificates(serial),
  created_at          INTEGER NOT NULL,
  decided_by          TEXT,
  decided_at          INTEGER,
  reason              TEXT    NOT NULL DEFAULT '',
  UNIQUE (transaction_id, requester_sha256),
  CHECK ((status = 'approved') = (serial IS NOT NULL)),
  CHECK ((status = 'pending') = (decided_at IS NULL))
) STRICT;
CREATE INDEX scep_requests_by_status ON scep_requests(status, id);
)sql";

// Version 5: what an RFC 5176 Disconnect-/CoA-Request needs about a live RADIUS session
// after a restart (the NAS identification attributes as the NAS sent them, the address it
// sends from, the policy's CoA attributes for a disabled device), and the last outcome.
constexpr const char* kVersion5 = R"sql(
ALTER TABLE radius_sessions ADD COLUMN nas_address      TEXT NOT NULL DEFAULT '';
ALTER TABLE radius_sessions ADD COLUMN nas_ip_address   TEXT NOT NULL DEFAULT '';
ALTER TABLE radius_sessions ADD COLUMN nas_ipv6_address TEXT NOT NULL DEFAULT '';
ALTER TABLE radius_sessions ADD COLUMN nas_identifier   TEXT NOT NULL DEFAULT '';
ALTER TABLE radius_sessions ADD COLUMN rule             TEXT NOT NULL DEFAULT '';
ALTER TABLE radius_sessions ADD COLUMN coa_reply        TEXT NOT NULL DEFAULT '';  -- hex of wire attributes
ALTER TABLE radius_sessions ADD COLUMN dynauth          TEXT NOT NULL DEFAULT '';
ALTER TABLE radius_sessions ADD COLUMN dynauth_at       INTEGER;
CREATE INDEX radius_sessions_live_by_nas ON radius_sessions(nas) WHERE stopped_at IS NULL;
)sql";

constexpr const char* kVersion6 = R"sql(
-- What a one-time challenge pins for the certificate it is redeemed for (the issued names
-- never come from the CSR): SANs here; the CN was already bound by challenges.cn. A held
-- request keeps them for the certificate issued at approval.
ALTER TABLE challenges    ADD COLUMN sans        TEXT NOT NULL DEFAULT '[]';
ALTER TABLE scep_requests ADD COLUMN issued_cn   TEXT NOT NULL DEFAULT '';
ALTER TABLE scep_requests ADD COLUMN issued_sans TEXT NOT NULL DEFAULT '[]';
)sql";

// Version 7: refused SCEP requests are audited, but anyone reaching the public port can
// cause them, so their rows are a bounded ring (Ledger::append_refusals): the oldest are
// deleted beyond a configured number. The append-only trigger lets exactly those rows go
// (actor 'scep', actions 'scep.reject' and 'scep.reject.suppressed'; an operator's
// rejection of a held request has its own actor and stays). The partial index finds the
// oldest of them without scanning the log, and meta.scep_refusal_rows counts them.
constexpr const char* kVersion7 = R"sql(
DROP TRIGGER audit_no_delete;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
WHEN NOT (OLD.actor = 'scep' AND OLD.action IN ('scep.reject', 'scep.reject.suppressed'))
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE INDEX audit_refusals ON audit(id) WHERE actor = 'scep' AND action IN ('scep.reject', 'scep.reject.suppressed');
INSERT INTO meta (key, value)
  SELECT 'scep_refusal_rows', count(*) FROM audit
  WHERE actor = 'scep' AND action IN ('scep.reject', 'scep.reject.suppressed');
)sql";

// Version 8: decision events (ca/event.hpp), why each RADIUS conversation, SCEP operation,
// Disconnect/CoA and NAS-level drop ended as it did. Written in batches off the request
// path and pruned by age and count, so plain rows (no append-only trigger). Indexed by
// the columns the admin API filters on, each with the time for newest-first order; the
// partial indexes leave out the many rows where the column is empty.
constexpr const char* kVersion8 = R"sql(
CREATE TABLE events (
  id             INTEGER PRIMARY KEY,
  at             INTEGER NOT NULL,
  kind           TEXT    NOT NULL,
  outcome        TEXT    NOT NULL,
  reason         TEXT    NOT NULL DEFAULT '',
  detail         TEXT    NOT NULL DEFAULT '',
  nas            TEXT    NOT NULL DEFAULT '',
  nas_ip         TEXT    NOT NULL DEFAULT '',
  mac            TEXT    NOT NULL DEFAULT '',
  user_name      TEXT    NOT NULL DEFAULT '',
  ssid           TEXT    NOT NULL DEFAULT '',
  serial         TEXT    NOT NULL DEFAULT '',
  device         TEXT    NOT NULL DEFAULT '',
  issuer         TEXT    NOT NULL DEFAULT '',
  tls_version    TEXT    NOT NULL DEFAULT '',
  rule           TEXT    NOT NULL DEFAULT '',
  duration_ms    INTEGER,
  cn             TEXT    NOT NULL DEFAULT '',
  transaction_id TEXT    NOT NULL DEFAULT '',
  count          INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX events_by_time   ON events(at);
CREATE INDEX events_by_device ON events(device, at) WHERE device <> '';
CREATE INDEX events_by_serial ON events(serial, at) WHERE serial <> '';
CREATE INDEX events_by_mac    ON events(mac, at)    WHERE mac <> '';
CREATE INDEX events_by_nas    ON events(nas, at)    WHERE nas <> '';
)sql";

// Version 9: the other filters of the events query. `portcullis events --kind scep` or
// `--outcome abandoned` with `--since` would otherwise walk events_by_time through every
// other row of the window; `why` finds a SCEP request by the CN it asked for (a wrong
// challenge names no device).
constexpr const char* kVersion9 = R"sql(
CREATE INDEX events_by_kind    ON events(kind, at);
CREATE INDEX events_by_outcome ON events(outcome, at);
CREATE INDEX events_by_cn      ON events(cn, at) WHERE cn <> '';
)sql";

// Version 10: what the console asks. The SSID of a session; devices by a MAC seen in their
// accounting sessions;
// the overview's counts of the last 24 hours (per minute and outcome, reject reasons per
// NAS, enrollment outcomes) read from one index without visiting the rows.
constexpr const char* kVersion10 = R"sql(
ALTER TABLE radius_sessions ADD COLUMN ssid TEXT NOT NULL DEFAULT '';
CREATE INDEX radius_sessions_by_calling_station ON radius_sessions(calling_station_id) WHERE calling_station_id <> '';
CREATE INDEX events_overview ON events(kind, at, outcome, reason, nas);
)sql";

// Version 11: which cause a live session's Disconnect-/CoA-Request was claimed for
// (RadiusSessionStore::claim_radius_sessions), so that of several nodes holding the
// session exactly one sends it (RFC 5176 §2.3: a NAS acts on each request it gets).
constexpr const char* kVersion11 = R"sql(
ALTER TABLE radius_sessions ADD COLUMN dynauth_claim TEXT NOT NULL DEFAULT '';
)sql";

// Version 12: the overview's counts kept as events are written (event_counts.hpp): per
// minute, and rejects by reason and NAS per hour. They replace the events_overview index,
// which held a million entries on a busy day and cost every event a five-column index
// entry. Both tables are filled from the last two days of events. And the heartbeat row of each node serving from the
// ledger (nodes.hpp).
constexpr const char* kVersion12 = R"sql(
CREATE TABLE event_counts (
  minute  INTEGER NOT NULL,   -- at / 60
  kind    TEXT    NOT NULL,
  outcome TEXT    NOT NULL,
  count   INTEGER NOT NULL,
  PRIMARY KEY (minute, kind, outcome)
) STRICT, WITHOUT ROWID;
INSERT INTO event_counts (minute, kind, outcome, count)
  SELECT at / 60, kind, outcome, sum(count) FROM events
  WHERE at >= unixepoch() - 172800 AND (kind = 'scep' OR (kind = 'radius' AND outcome IN ('accept', 'reject')))
  GROUP BY 1, 2, 3;
CREATE TABLE reject_counts (
  hour   INTEGER NOT NULL,    -- at / 3600
  reason TEXT    NOT NULL,
  nas    TEXT    NOT NULL,
  count  INTEGER NOT NULL,
  PRIMARY KEY (hour, reason, nas)
) STRICT, WITHOUT ROWID;
INSERT INTO reject_counts (hour, reason, nas, count)
  SELECT at / 3600, reason, nas, sum(count) FROM events
  WHERE at >= unixepoch() - 172800 AND kind = 'radius' AND outcome = 'reject'
  GROUP BY 1, 2, 3;
DROP INDEX events_overview;

CREATE TABLE nodes (
  name             TEXT    PRIMARY KEY NOT NULL,
  instance         TEXT    NOT NULL,
  version          TEXT    NOT NULL DEFAULT '',
  status           TEXT    NOT NULL CHECK (status IN ('ok', 'degraded', 'stopped')),
  reason           TEXT    NOT NULL DEFAULT '',
  started_at       INTEGER NOT NULL,
  interval_seconds INTEGER NOT NULL,
  seen_at          INTEGER NOT NULL
) STRICT;
)sql";

constexpr std::array kMigrations{kVersion1, kVersion2, kVersion3, kVersion4, kVersion5, kVersion6, kVersion7,
                                 kVersion8, kVersion9, kVersion10, kVersion11, kVersion12};

}  // namespace

int latest_schema_version() noexcept { return static_cast<int>(kMigrations.size()); }

int schema_version(Connection& db) { return static_cast<int>(db.query_int64("PRAGMA user_version")); }

void migrate(Connection& db, int target) {
  const int latest = latest_schema_version();
  if (target <= 0 || target > latest) target = latest;
  const auto refuse_newer = [&](int found) {
    if (found > latest) {
      throw LedgerError("ledger schema version " + std::to_string(found) + " is newer than this portcullis supports (" +
                        std::to_string(latest) + "); upgrade portcullis");
    }
  };
  refuse_newer(schema_version(db));
  for (int next = 1; next <= target; ++next) {
    Transaction tx(db);
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const int current = schema_version(db);
    refuse_newer(current);
    if (current >= next) continue;  // the guard rolls back the empty transaction
    db.exec(kMigrations[static_cast<std::size_t>(next - 1)]);
    // PRAGMA takes no bound parameters; `next` is our own integer, not input.
    db.exec(("PRAGMA user_version = " + std::to_string(next)).c_str());
    tx.commit();
  }
}

}  // namespace portcullis::ca::sqlite
