// The SQLite ledger: opening, devices, the audit log, counters and maintenance.
// Certificates are in sqlite_certificates.cpp.
#include "ca/ledger/sqlite_ledger.hpp"

#include "ca/ledger/ledger_rules.hpp"
#include "ca/ledger/schema.hpp"

#include <set>

namespace portcullis::ca {

std::unique_ptr<Ledger> open_sqlite_ledger(const std::string& path, CommitObserver* commits) {
  auto ledger = std::make_unique<sqlite::SqliteLedger>(path);
  ledger->observe_commits(commits);
  return ledger;
}

namespace sqlite {

using detail::clamp_count;
using detail::is_refusal_row;
using detail::like_substring;
using detail::validate_new_device;

Device device_from_row(const Statement& row) {
  Device d;
  d.id = row.column_int64(0);
  d.name = row.column_text(1);
  d.display_name = row.column_text(2);
  d.owner = row.column_text(3);
  d.enabled = row.column_int64(4) != 0;
  d.created_at = row.column_int64(5);
  return d;
}

SqliteLedger::SqliteLedger(const std::string& path) : db_(Connection::open(path, /*create=*/true)) {
  // Wait up to 5 s for another process's write lock (e.g. `portcullis init` racing a
  // service start) instead of failing at once with SQLITE_BUSY.
  sqlite3_busy_timeout(db_.handle(), 5000);
  db_.exec("PRAGMA foreign_keys = ON");  // per connection, off by default
  // Schema objects (triggers) may only use functions marked innocuous; hardening against
  // a tampered database file (https://sqlite.org/pragma.html#pragma_trusted_schema).
  db_.exec("PRAGMA trusted_schema = OFF");
  {
    Statement mode = db_.prepare("PRAGMA journal_mode = WAL");
    const std::string got = mode.step() ? mode.column_text(0) : std::string();
    // WAL lets readers (OCSP/CRL rebuilds, the admin API) run while a writer commits.
    // An in-memory database reports "memory", which is fine for tests.
    if (got != "wal" && got != "memory") throw LedgerError("ledger: cannot enable WAL journal mode (got '" + got + "')");
  }
  // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss. A CA
  // must never have handed out a certificate whose row is gone after a crash, so every
  // commit is synced (https://sqlite.org/pragma.html#pragma_synchronous).
  db_.exec("PRAGMA synchronous = FULL");
  // A group commit's savepoints keep each unit's page images in a statement journal,
  // which spills to a temporary file past 64 KiB; one issuance is about that size, and
  // a file would cost the writes the batching saves (https://sqlite.org/tempfiles.html).
  db_.exec("PRAGMA temp_store = MEMORY");
  // 16 MiB of page cache instead of SQLite's 2 MiB: the random-order indexes an issuance
  // touches (serial, fingerprint, transaction id) stay in memory for a fleet of tens of
  // thousands of certificates instead of being read back for every insert.
  db_.exec("PRAGMA cache_size = -16384");
  migrate(db_);
  if (path != ":memory:" && !path.empty()) {
    reader_.emplace(Connection::open(path, /*create=*/false));
    sqlite3_busy_timeout(reader_->handle(), 5000);
    reader_->exec("PRAGMA trusted_schema = OFF");
    reader_->exec("PRAGMA query_only = ON");
  }
}

// --- devices --------------------------------------------------------------------------

namespace {

std::vector<std::string> groups_of(Connection& db, std::int64_t device_id) {
  auto stmt = db.cached("SELECT name FROM device_groups WHERE device_id = ?1 ORDER BY name");
  stmt->bind(1, device_id);
  std::vector<std::string> groups;
  while (stmt->step()) groups.push_back(stmt->column_text(0));
  return groups;
}

std::optional<Device> device_by_id(Connection& db, std::int64_t id) {
  std::optional<Device> found;
  {
    auto stmt = db.cached("SELECT id, name, display_name, owner, enabled, created_at FROM devices WHERE id = ?1");
    stmt->bind(1, id);
    if (stmt->step()) found = device_from_row(*stmt);
  }
  if (found) found->groups = groups_of(db, found->id);
  return found;
}

std::optional<Device> device_by_name(Connection& db, const std::string& name) {
  std::optional<Device> found;
  {
    auto stmt = db.cached("SELECT id, name, display_name, owner, enabled, created_at FROM devices WHERE name = ?1");
    stmt->bind(1, name);
    if (stmt->step()) found = device_from_row(*stmt);
  }
  if (found) found->groups = groups_of(db, found->id);
  return found;
}

}  // namespace

std::vector<std::string> SqliteLedger::groups_locked(std::int64_t device_id) { return groups_of(db_, device_id); }

std::optional<Device> SqliteLedger::device_by_id_locked(std::int64_t id) { return device_by_id(db_, id); }

std::optional<Device> SqliteLedger::device_by_name_locked(const std::string& name) { return device_by_name(db_, name); }

Device SqliteLedger::insert_device_locked(const NewDevice& device, const std::string& actor) {
  validate_new_device(device);
  const UnixTime now = now_unix();
  {
    auto stmt = db_.cached(
        "INSERT INTO devices (name, display_name, owner, enabled, created_at) VALUES (?1, ?2, ?3, 1, ?4)");
    stmt->bind(1, device.name).bind(2, device.display_name).bind(3, device.owner).bind(4, now);
    try {
      stmt->run();
    } catch (const SqliteError& e) {
      if (e.primary_code() == SQLITE_CONSTRAINT) throw LedgerConflict("a device named '" + device.name + "' already exists");
      throw;
    }
  }
  Device created;
  created.id = db_.last_insert_rowid();
  created.name = device.name;
  created.display_name = device.display_name;
  created.owner = device.owner;
  created.enabled = true;
  created.created_at = now;
  const std::set<std::string> unique_groups(device.groups.begin(), device.groups.end());
  for (const auto& group : unique_groups) {
    auto stmt = db_.cached("INSERT INTO device_groups (device_id, name) VALUES (?1, ?2)");
    stmt->bind(1, created.id).bind(2, group);
    stmt->run();
  }
  created.groups.assign(unique_groups.begin(), unique_groups.end());
  insert_audit_locked({0, now, actor, "device.create", created.name, "id=" + std::to_string(created.id)});
  return created;
}

Device SqliteLedger::create_device(const NewDevice& device, const std::string& actor) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  Device created = insert_device_locked(device, actor);
  tx.commit();
  return created;
}

std::optional<Device> SqliteLedger::find_device(std::int64_t id) {
  return read([&](Connection& db) { return device_by_id(db, id); });
}

std::optional<Device> SqliteLedger::find_device_by_name(const std::string& name) {
  return read([&](Connection& db) { return device_by_name(db, name); });
}

namespace {

// The WHERE clause of list_devices and count_devices. The statement text varies only by
// which fixed clauses are present; every value, the search text included, is a bound
// parameter at a fixed number (kDeviceLimit and kDeviceOffset follow them).
constexpr int kDeviceMacSpellings = 6;
constexpr int kDeviceLimit = kDeviceMacSpellings + static_cast<int>(detail::kMacSpellings);
constexpr int kDeviceOffset = kDeviceLimit + 1;

std::string device_filter_sql(const DeviceFilter& filter) {
  std::string sql = " WHERE 1";
  if (!filter.search.empty())
    sql += " AND (name LIKE ?1 ESCAPE '\\' OR display_name LIKE ?1 ESCAPE '\\' OR owner LIKE ?1 ESCAPE '\\')";
  if (filter.enabled) sql += " AND enabled = ?2";
  if (filter.group) sql += " AND id IN (SELECT device_id FROM device_groups WHERE name = ?3)";
  if (filter.serial) sql += " AND id IN (SELECT device_id FROM certificates WHERE serial = ?4)";
  if (filter.mac) {
    // `mac <> ''` and `calling_station_id <> ''` repeat the partial indexes' conditions so
    // that SQLite may use them (it cannot see that a bound value is not empty).
    std::string spellings;
    for (int i = 0; i < static_cast<int>(detail::kMacSpellings); ++i)
      spellings += (i == 0 ? "?" : ", ?") + std::to_string(kDeviceMacSpellings + i);
    sql += " AND (name IN (SELECT device FROM events WHERE mac = ?5 AND mac <> '' AND device <> '')"
           " OR id IN (SELECT c.device_id FROM radius_sessions s JOIN certificates c ON c.serial = s.serial"
           " WHERE s.calling_station_id IN (" + spellings + ") AND s.calling_station_id <> ''))";
  }
  return sql;
}

void bind_device_filter(Statement& stmt, const DeviceFilter& filter) {
  if (!filter.search.empty()) stmt.bind(1, detail::like_substring(filter.search));
  if (filter.enabled) stmt.bind(2, std::int64_t{*filter.enabled ? 1 : 0});
  if (filter.group) stmt.bind(3, *filter.group);
  if (filter.serial) stmt.bind(4, *filter.serial);
  if (filter.mac) {
    stmt.bind(5, *filter.mac);
    int n = kDeviceMacSpellings;
    for (const auto& spelling : detail::mac_spellings(*filter.mac)) stmt.bind(n++, spelling);
  }
}

}  // namespace

// On the reader connection: a search scans the devices, and issuance must not wait for it.
std::vector<Device> SqliteLedger::list_devices(const DeviceFilter& filter) {
  const std::string sql = "SELECT id, name, display_name, owner, enabled, created_at FROM devices" +
                          device_filter_sql(filter) + " ORDER BY id LIMIT ?" + std::to_string(kDeviceLimit) +
                          " OFFSET ?" + std::to_string(kDeviceOffset);
  return read([&](Connection& db) {
    std::vector<Device> devices;
    {
      Statement stmt = db.prepare(sql);
      bind_device_filter(stmt, filter);
      stmt.bind(kDeviceLimit, clamp_count(filter.limit)).bind(kDeviceOffset, clamp_count(filter.offset));
      while (stmt.step()) devices.push_back(device_from_row(stmt));
    }
    for (auto& d : devices) d.groups = groups_of(db, d.id);
    return devices;
  });
}

std::size_t SqliteLedger::count_devices(const DeviceFilter& filter) {
  const std::string sql = "SELECT count(*) FROM devices" + device_filter_sql(filter);
  return read([&](Connection& db) {
    Statement stmt = db.prepare(sql);
    bind_device_filter(stmt, filter);
    return stmt.step() ? static_cast<std::size_t>(stmt.column_int64(0)) : std::size_t{0};
  });
}

Device SqliteLedger::set_device_enabled(std::int64_t id, bool enabled, const std::string& actor) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  std::optional<Device> device = device_by_id_locked(id);
  if (!device) throw LedgerNotFound("no device with id " + std::to_string(id));
  if (device->enabled == enabled) return *device;  // nothing changed, nothing to audit
  {
    auto stmt = db_.cached("UPDATE devices SET enabled = ?1 WHERE id = ?2");
    stmt->bind(1, std::int64_t{enabled ? 1 : 0}).bind(2, id);
    stmt->run();
  }
  if (enabled) {
    // Its sessions may be disabled again later: that is a new cause to act on once more.
    auto stmt = db_.cached(
        "UPDATE radius_sessions SET dynauth_claim = '' WHERE dynauth_claim = ?1 AND serial IN "
        "(SELECT serial FROM certificates WHERE device_id = ?2)");
    stmt->bind(1, kClaimDisabled).bind(2, id);
    stmt->run();
  }
  device->enabled = enabled;
  insert_audit_locked({0, now_unix(), actor, enabled ? "device.enable" : "device.disable", device->name,
                       "id=" + std::to_string(id)});
  tx.commit();
  return *device;
}

Device SqliteLedger::set_device_groups(std::int64_t id, const std::vector<std::string>& groups,
                                      const std::string& actor) {
  detail::validate_groups(groups);
  const std::set<std::string> unique_groups(groups.begin(), groups.end());
  const std::vector<std::string> after(unique_groups.begin(), unique_groups.end());
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  std::optional<Device> device = device_by_id_locked(id);
  if (!device) throw LedgerNotFound("no device with id " + std::to_string(id));
  if (device->groups == after) return *device;  // nothing changed, nothing to audit
  {
    auto stmt = db_.cached("DELETE FROM device_groups WHERE device_id = ?1");
    stmt->bind(1, id);
    stmt->run();
  }
  for (const auto& group : after) {
    auto stmt = db_.cached("INSERT INTO device_groups (device_id, name) VALUES (?1, ?2)");
    stmt->bind(1, id).bind(2, group);
    stmt->run();
  }
  insert_audit_locked({0, now_unix(), actor, "device.groups", device->name, detail::groups_detail(id, device->groups, after)});
  tx.commit();
  device->groups = after;
  return *device;
}

void SqliteLedger::for_each_device(const std::function<void(const Device&)>& fn) {
  std::lock_guard lock(mutex_);
  // One pass: devices joined with their groups, ordered so a device's rows are adjacent.
  Statement stmt = db_.prepare(
      "SELECT d.id, d.name, d.display_name, d.owner, d.enabled, d.created_at, g.name "
      "FROM devices d LEFT JOIN device_groups g ON g.device_id = d.id ORDER BY d.id, g.name");
  std::optional<Device> current;
  while (stmt.step()) {
    const std::int64_t id = stmt.column_int64(0);
    if (!current || current->id != id) {
      if (current) fn(*current);
      current = device_from_row(stmt);
    }
    if (!stmt.column_is_null(6)) current->groups.push_back(stmt.column_text(6));
  }
  if (current) fn(*current);
}

// --- audit ------------------------------------------------------------------------------

void SqliteLedger::insert_audit_locked(const AuditEntry& entry) {
  auto stmt = db_.cached("INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)");
  stmt->bind(1, entry.at != 0 ? entry.at : now_unix())
      .bind(2, entry.actor.empty() ? std::string("system") : entry.actor)
      .bind(3, entry.action)
      .bind(4, entry.target)
      .bind(5, entry.detail);
  stmt->run();
}

void SqliteLedger::append_audit(const AuditEntry& entry) {
  if (entry.action.empty()) throw LedgerConflict("an audit entry needs an action");
  // Refusal rows are counted and pruned (append_refusals); one written here would be neither.
  if (is_refusal_row(entry)) throw LedgerConflict("refused SCEP requests are audited through append_refusals");
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  insert_audit_locked(entry);
  tx.commit();
}

std::vector<AuditEntry> SqliteLedger::audit(const AuditFilter& filter) {
  std::string sql = "SELECT id, at, actor, action, target, detail FROM audit WHERE 1";
  if (filter.target) sql += " AND target = ?1";
  if (filter.action) sql += " AND action = ?2";
  sql += " ORDER BY id DESC LIMIT ?3";

  std::lock_guard lock(mutex_);
  Statement stmt = db_.prepare(sql);
  if (filter.target) stmt.bind(1, *filter.target);
  if (filter.action) stmt.bind(2, *filter.action);
  stmt.bind(3, clamp_count(filter.limit));
  std::vector<AuditEntry> entries;
  while (stmt.step()) {
    entries.push_back({stmt.column_int64(0), stmt.column_int64(1), stmt.column_text(2), stmt.column_text(3),
                       stmt.column_text(4), stmt.column_text(5)});
  }
  return entries;
}

// --- counters and maintenance ------------------------------------------------------------

std::int64_t SqliteLedger::next_crl_number() {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  std::int64_t number = 0;
  {
    auto stmt = db_.cached("UPDATE meta SET value = value + 1 WHERE key = 'crl_number' RETURNING value");
    if (!stmt->step()) throw LedgerError("ledger: the crl_number counter is missing");
    number = stmt->column_int64(0);
    stmt->run();  // drain, so the statement completes before COMMIT
  }
  tx.commit();
  return number;
}

std::string SqliteLedger::integrity_check() {
  std::lock_guard lock(mutex_);
  Statement stmt = db_.prepare("PRAGMA integrity_check");
  std::string result;
  while (stmt.step()) {
    if (!result.empty()) result.push_back('\n');
    result += stmt.column_text(0);
  }
  return result;
}

}  // namespace sqlite
}  // namespace portcullis::ca
