// The PostgreSQL ledger: opening, devices, counters and maintenance. Certificates are in
// postgres_certificates.cpp, the audit log in postgres_audit.cpp.
#include "ca/ledger/postgres_ledger.hpp"

#include "ca/ledger/ledger_rules.hpp"
#include "ca/ledger/postgres_schema.hpp"

#include <set>

namespace portcullis::ca {

std::unique_ptr<Ledger> open_postgres_ledger(const PostgresLedgerOptions& options, CommitObserver* commits) {
  postgres::ConnectOptions connect;
  connect.conninfo = options.url;
  connect.password = options.password;
  return std::make_unique<postgres::PostgresLedger>(connect, options.pool_size, commits);
}

namespace postgres {

PostgresLedger::PostgresLedger(const ConnectOptions& options, std::size_t pool_size, CommitObserver* commits)
    : pool_(options, pool_size), options_(options) {
  check_conninfo(options.conninfo);   // before anything is sent: a password in the url is refused
  {
    Pool::Lease lease = pool_.acquire();
    migrate(*lease);
  }
  pool_.observe_commits(commits);   // after the migration, whose commit is not an issuance's
}

// --- devices ---------------------------------------------------------------------------

Device device_from(const Result& r, int row) {
  Device d;
  d.id = r.int64(row, 0);
  d.name = r.text(row, 1);
  d.display_name = r.text(row, 2);
  d.owner = r.text(row, 3);
  d.enabled = r.boolean(row, 4);
  d.created_at = r.int64(row, 5);
  return d;
}

namespace {

// Group names in byte order (COLLATE "C"), as SQLite's BINARY collation sorts them,
// whatever the database's locale.
std::vector<std::string> groups_of(Connection& db, std::int64_t device_id) {
  const Result r = db.exec("SELECT name FROM device_groups WHERE device_id = $1 ORDER BY name COLLATE \"C\"",
                           Params().add(device_id));
  std::vector<std::string> groups;
  for (int i = 0; i < r.rows(); ++i) groups.push_back(r.text(i, 0));
  return groups;
}

std::optional<Device> device_where(Connection& db, const std::string& sql, const Params& params) {
  const Result r = db.exec(sql, params);
  if (r.rows() == 0) return std::nullopt;
  Device d = device_from(r, 0);
  d.groups = groups_of(db, d.id);
  return d;
}

void insert_groups(Connection& db, Device& created, const std::vector<std::string>& groups) {
  const std::set<std::string> unique_groups(groups.begin(), groups.end());
  for (const auto& group : unique_groups) {
    db.exec("INSERT INTO device_groups (device_id, name) VALUES ($1, $2)", Params().add(created.id).add(group));
  }
  created.groups.assign(unique_groups.begin(), unique_groups.end());
}

Device new_device_row(const NewDevice& device, std::int64_t id, UnixTime now) {
  Device created;
  created.id = id;
  created.name = device.name;
  created.display_name = device.display_name;
  created.owner = device.owner;
  created.enabled = true;
  created.created_at = now;
  return created;
}

}  // namespace

// FOR SHARE: an issuance holds the device row until it commits, so a concurrent disable
// (on any node) waits for it, or it waits for the disable and then sees the device
// disabled; either way no certificate is issued to a device after its disable committed.
std::optional<Device> device_by_id(Connection& db, std::int64_t id, bool for_share) {
  return device_where(db,
                      std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE id = $1" +
                          (for_share ? " FOR SHARE" : ""),
                      Params().add(id));
}

std::optional<Device> device_by_name(Connection& db, const std::string& name) {
  return device_where(db, std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE name = $1 FOR SHARE",
                      Params().add(name));
}

Device insert_device(Connection& db, const NewDevice& device, const std::string& actor) {
  detail::validate_new_device(device);
  const UnixTime now = now_unix();
  std::int64_t id = 0;
  try {
    const Result r = db.exec(
        "INSERT INTO devices (name, display_name, owner, enabled, created_at) VALUES ($1, $2, $3, true, $4) "
        "RETURNING id",
        Params().add(device.name).add(device.display_name).add(device.owner).add(now));
    id = r.int64(0, 0);
  } catch (const PgError& e) {
    if (e.unique_violation()) throw LedgerConflict("a device named '" + device.name + "' already exists");
    throw;
  }
  Device created = new_device_row(device, id, now);
  insert_groups(db, created, device.groups);
  record_change(db, kChangeDevice, std::to_string(created.id));
  insert_audit(db, {0, now, actor, "device.create", created.name, "id=" + std::to_string(created.id)});
  return created;
}

Device device_by_name_or_insert(Connection& db, const NewDevice& device, const std::string& actor, bool& created) {
  created = false;
  if (std::optional<Device> found = device_by_name(db, device.name)) return std::move(*found);
  detail::validate_new_device(device);
  const UnixTime now = now_unix();
  // Another node may insert the same name meanwhile: ON CONFLICT waits for its transaction
  // and, when it commits, inserts nothing; the SELECT after it then sees that device.
  const Result r = db.exec(
      "INSERT INTO devices (name, display_name, owner, enabled, created_at) VALUES ($1, $2, $3, true, $4) "
      "ON CONFLICT (name) DO NOTHING RETURNING id",
      Params().add(device.name).add(device.display_name).add(device.owner).add(now));
  if (r.rows() == 0) {
    std::optional<Device> found = device_by_name(db, device.name);
    if (!found) throw LedgerError("ledger: device '" + device.name + "' vanished while being created");
    return std::move(*found);
  }
  Device inserted = new_device_row(device, r.int64(0, 0), now);
  insert_groups(db, inserted, device.groups);
  record_change(db, kChangeDevice, std::to_string(inserted.id));
  insert_audit(db, {0, now, actor, "device.create", inserted.name, "id=" + std::to_string(inserted.id)});
  created = true;
  return inserted;
}

Device PostgresLedger::create_device(const NewDevice& device, const std::string& actor) {
  detail::validate_new_device(device);
  return write([&](Connection& db) { return insert_device(db, device, actor); });
}

std::optional<Device> PostgresLedger::find_device(std::int64_t id) {
  return read([&](Connection& db) {
    return device_where(db, std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE id = $1", Params().add(id));
  });
}

std::optional<Device> PostgresLedger::find_device_by_name(const std::string& name) {
  return read([&](Connection& db) {
    return device_where(db, std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE name = $1",
                        Params().add(name));
  });
}

namespace {

// The WHERE clause of list_devices and count_devices, its values added to `params`. The
// statement text varies only by which fixed clauses are present; every value, the search
// text included, is a parameter. ILIKE: case-insensitive, as SQLite's LIKE is for ASCII.
std::string device_filter_sql(const DeviceFilter& filter, Params& params) {
  auto next = [&] { return "$" + std::to_string(params.size()); };
  std::string sql = " WHERE true";
  if (!filter.search.empty()) {
    params.add(detail::like_substring(filter.search));
    sql += " AND (name ILIKE " + next() + " ESCAPE '\\' OR display_name ILIKE " + next() +
           " ESCAPE '\\' OR owner ILIKE " + next() + " ESCAPE '\\')";
  }
  if (filter.enabled) {
    params.add(*filter.enabled);
    sql += " AND enabled = " + next();
  }
  if (filter.group) {
    params.add(*filter.group);
    sql += " AND id IN (SELECT device_id FROM device_groups WHERE name = " + next() + ")";
  }
  if (filter.serial) {
    params.add(*filter.serial);
    sql += " AND id IN (SELECT device_id FROM certificates WHERE serial = " + next() + ")";
  }
  if (filter.mac) {
    params.add(*filter.mac);
    sql += " AND (name IN (SELECT device FROM events WHERE mac = " + next() + " AND mac <> '' AND device <> '')";
    std::string spellings;
    for (const auto& spelling : detail::mac_spellings(*filter.mac)) {
      params.add(spelling);
      spellings += (spellings.empty() ? "" : ", ") + next();
    }
    sql += " OR id IN (SELECT c.device_id FROM radius_sessions s JOIN certificates c ON c.serial = s.serial"
           " WHERE s.calling_station_id IN (" + spellings + ") AND s.calling_station_id <> ''))";
  }
  return sql;
}

}  // namespace

std::vector<Device> PostgresLedger::list_devices(const DeviceFilter& filter) {
  Params params;
  std::string sql = std::string("SELECT ") + kDeviceColumns + " FROM devices" + device_filter_sql(filter, params);
  params.add(detail::clamp_count(filter.limit)).add(detail::clamp_count(filter.offset));
  sql += " ORDER BY id LIMIT $" + std::to_string(params.size() - 1) + " OFFSET $" + std::to_string(params.size());
  return read([&](Connection& db) {
    const Result r = db.exec(sql, params);
    std::vector<Device> devices;
    for (int i = 0; i < r.rows(); ++i) devices.push_back(device_from(r, i));
    for (auto& d : devices) d.groups = groups_of(db, d.id);
    return devices;
  });
}

std::size_t PostgresLedger::count_devices(const DeviceFilter& filter) {
  Params params;
  const std::string sql = "SELECT count(*) FROM devices" + device_filter_sql(filter, params);
  return read([&](Connection& db) { return static_cast<std::size_t>(db.exec(sql, params).int64(0, 0)); });
}

Device PostgresLedger::set_device_enabled(std::int64_t id, bool enabled, const std::string& actor) {
  return write([&](Connection& db) {
    // FOR UPDATE: of two concurrent changes, the second sees the first's result, so each
    // real change is audited once.
    std::optional<Device> device = device_where(
        db, std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE id = $1 FOR UPDATE", Params().add(id));
    if (!device) throw LedgerNotFound("no device with id " + std::to_string(id));
    if (device->enabled == enabled) return *device;  // nothing changed, nothing to audit
    db.exec("UPDATE devices SET enabled = $1 WHERE id = $2", Params().add(enabled).add(id));
    // Its sessions may be disabled again later: that is a new cause to act on once more.
    if (enabled)
      db.exec("UPDATE radius_sessions SET dynauth_claim = '' WHERE dynauth_claim = $1 AND serial IN "
              "(SELECT serial FROM certificates WHERE device_id = $2)",
              Params().add(std::string(kClaimDisabled)).add(id));
    record_change(db, kChangeDevice, std::to_string(id));
    device->enabled = enabled;
    insert_audit(db, {0, now_unix(), actor, enabled ? "device.enable" : "device.disable", device->name,
                      "id=" + std::to_string(id)});
    return *device;
  });
}

Device PostgresLedger::set_device_groups(std::int64_t id, const std::vector<std::string>& groups,
                                        const std::string& actor) {
  detail::validate_groups(groups);
  return write([&](Connection& db) {
    // FOR UPDATE: two concurrent changes run one after the other, each audited with the
    // groups it really replaced.
    std::optional<Device> device = device_where(
        db, std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE id = $1 FOR UPDATE", Params().add(id));
    if (!device) throw LedgerNotFound("no device with id " + std::to_string(id));
    Device changed = *device;
    changed.groups.clear();
    const std::set<std::string> unique_groups(groups.begin(), groups.end());
    if (std::vector<std::string>(unique_groups.begin(), unique_groups.end()) == device->groups) return *device;
    db.exec("DELETE FROM device_groups WHERE device_id = $1", Params().add(id));
    insert_groups(db, changed, groups);
    record_change(db, kChangeDevice, std::to_string(id));
    insert_audit(db, {0, now_unix(), actor, "device.groups", device->name,
                      detail::groups_detail(id, device->groups, changed.groups)});
    return changed;
  });
}

void PostgresLedger::for_each_device(const std::function<void(const Device&)>& fn) {
  read([&](Connection& db) {
    // One pass: devices joined with their groups, ordered so a device's rows are adjacent.
    std::optional<Device> current;
    db.stream(
        "SELECT d.id, d.name, d.display_name, d.owner, d.enabled, d.created_at, g.name "
        "FROM devices d LEFT JOIN device_groups g ON g.device_id = d.id ORDER BY d.id, g.name COLLATE \"C\"",
        Params(), [&](const Result& r) {
          const std::int64_t id = r.int64(0, 0);
          if (!current || current->id != id) {
            if (current) fn(*current);
            current = device_from(r, 0);
          }
          if (!r.is_null(0, 6)) current->groups.push_back(r.text(0, 6));
        });
    if (current) fn(*current);
  });
}

// --- the change feed -----------------------------------------------------------------------

void record_change(Connection& db, const char* kind, const std::string& key) {
  db.exec(
      "WITH c AS (INSERT INTO portcullis_sync.changes (at, kind, key) VALUES ($1, $2, $3) RETURNING seq) "
      "SELECT pg_notify('portcullis_changes', (SELECT seq FROM c)::text)",
      Params().add(now_unix()).add(kind).add(key));
}

std::vector<LedgerChange> PostgresLedger::changes_after(std::int64_t after, std::size_t limit) {
  return read([&](Connection& db) {
    const Result r = db.exec("SELECT seq, kind, key FROM portcullis_sync.changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                             Params().add(after).add(detail::clamp_count(limit)));
    std::vector<LedgerChange> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back({r.int64(i, 0), r.text(i, 1), r.text(i, 2)});
    return out;
  });
}

std::int64_t PostgresLedger::last_change() {
  return read([&](Connection& db) {
    return db.exec("SELECT coalesce(max(seq), 0) FROM portcullis_sync.changes").int64(0, 0);
  });
}

bool PostgresLedger::wait_for_change(std::chrono::milliseconds timeout) {
  std::lock_guard lock(listen_mutex_);
  if (!listener_ || listener_->broken()) {
    listener_.reset();
    listener_.emplace(Connection::open(options_));
    listener_->exec("LISTEN portcullis_changes");
    // Whatever was committed while nobody listened is only in the table: catch up.
    return true;
  }
  try {
    return listener_->wait_for_notification(timeout);
  } catch (const PgError&) {
    listener_.reset();
    throw;
  }
}

// --- counters and maintenance ------------------------------------------------------------

std::int64_t PostgresLedger::next_crl_number() {
  // The row lock of the UPDATE orders concurrent callers on every node: each number once.
  return write([&](Connection& db) {
    const Result r = db.exec("UPDATE meta SET value = value + 1 WHERE key = 'crl_number' RETURNING value");
    if (r.rows() != 1) throw LedgerError("ledger: the crl_number counter is missing");
    return r.int64(0, 0);
  });
}

std::string PostgresLedger::integrity_check() {
  // PostgreSQL checks its pages itself (and amcheck needs a superuser); what can drift
  // here is the schema: a ledger migrated by another binary, or tables dropped by hand.
  return read([&](Connection& db) -> std::string {
    const int version = schema_version(db);
    if (version != latest_schema_version()) {
      return "schema version " + std::to_string(version) + ", expected " + std::to_string(latest_schema_version());
    }
    const Result triggers = db.exec(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit'::regclass AND NOT tgisinternal AND tgenabled <> 'D'");
    if (triggers.int64(0, 0) != 3) return "the audit log's append-only triggers are missing or disabled";
    return "ok";
  });
}

}  // namespace postgres
}  // namespace portcullis::ca
