#include "ca/ledger/ledger_copy.hpp"

#include "ca/ledger/postgres_schema.hpp"
#include "ca/ledger/schema.hpp"
#include "ca/ledger/table_catalog.hpp"
#include "ca/ledger/table_checksum.hpp"

#include <algorithm>
#include <map>
#include <optional>

namespace portcullis::ca {
namespace {

// PostgreSQL records the schema version as a meta row; SQLite keeps it in PRAGMA
// user_version. The copy checks the versions are equal and leaves that row out of meta's
// rows and checksum.
constexpr const char* kPostgresVersionKey = "schema_version";
// PostgreSQL's bind parameters per statement are numbered with 16 bits.
constexpr std::size_t kMaxParameters = 65535;

bool is_meta(const TableInfo& t) { return t.name == "meta"; }

std::string joined_columns(const TableInfo& t) {
  std::string out;
  for (const ColumnInfo& c : t.columns) out += (out.empty() ? "" : ", ") + quote_identifier(c.name);
  return out;
}

ColumnType type_of(const TableInfo& t, const std::string& column) {
  for (const ColumnInfo& c : t.columns)
    if (c.name == column) return c.type;
  return ColumnType::text;
}

// The rows in the order the checksum is defined over: by primary key, text by its bytes.
std::string select_rows(const TableInfo& t, bool postgres) {
  std::string sql = "SELECT " + joined_columns(t) + " FROM " + quote_identifier(t.name);
  if (postgres && is_meta(t)) sql += " WHERE key <> '" + std::string(kPostgresVersionKey) + "'";
  std::vector<std::string> order = t.primary_key;
  if (order.empty())
    for (const ColumnInfo& c : t.columns) order.push_back(c.name);
  std::string by;
  for (const std::string& column : order) {
    by += (by.empty() ? "" : ", ") + quote_identifier(column);
    if (postgres && type_of(t, column) == ColumnType::text) by += " COLLATE \"C\"";
  }
  return sql + " ORDER BY " + by;
}

// Rows that hold data: meta's counters as a new schema seeds them (0) do not.
std::int64_t rows_with_data(postgres::Connection& db, const TableInfo& t) {
  std::string sql = "SELECT count(*) FROM " + quote_identifier(t.name);
  if (is_meta(t)) sql += " WHERE key <> '" + std::string(kPostgresVersionKey) + "' AND value <> 0";
  return db.exec(sql).int64(0, 0);
}

std::int64_t count_rows(sqlite::Connection& db, const TableInfo& t) {
  sqlite::Statement count = db.prepare("SELECT count(*) FROM " + quote_identifier(t.name));
  count.step();
  return count.column_int64(0);
}

// A plain read transaction: one snapshot of the SQLite ledger for the whole copy, without
// taking its write lock (https://sqlite.org/isolation.html).
class ReadSnapshot {
 public:
  explicit ReadSnapshot(sqlite::Connection& db) : db_(db) { db_.exec("BEGIN"); }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  ~ReadSnapshot() {
    try {
      db_.exec("ROLLBACK");
    } catch (const LedgerError&) {  // nothing was written; closing the connection ends it too
    }
  }

 private:
  sqlite::Connection& db_;
};

// Refuses a target that holds ledger rows: meta only with its seeded zero counters.
void require_empty_target(postgres::Connection& db, std::vector<TableInfo> tables, const std::string& own_serial) {
  // Certificates first: they tell whose ledger the target holds.
  std::stable_partition(tables.begin(), tables.end(), [](const TableInfo& t) { return t.name == "certificates"; });
  for (const TableInfo& t : tables) {
    const std::int64_t rows = rows_with_data(db, t);
    if (rows == 0) continue;
    if (t.name == "certificates") {
      const bool ours = !own_serial.empty() &&
                        db.exec("SELECT 1 FROM certificates WHERE serial = $1", postgres::Params().add(own_serial)).rows() > 0;
      throw LedgerError("ledger migrate: the target database already holds " + std::to_string(rows) + " certificates " +
                        (ours ? "of this CA (was this ledger migrated before?)" : "of another CA") +
                        "; it needs an empty database");
    }
    throw LedgerError("ledger migrate: the target database is not empty (table " + t.name + " has " +
                      std::to_string(rows) + " rows); it needs an empty database");
  }
}

// One table's rows, SQLite to PostgreSQL, in multi-row INSERTs; the source's checksum is
// taken on the way. `seeded`: the new schema already has rows (meta's counters), which
// the source's values replace.
class TableCopier {
 public:
  TableCopier(const TableInfo& table, postgres::Connection& target, bool seeded, std::size_t batch_rows)
      : table_(table), target_(target), seeded_(seeded),
        batch_rows_(std::max<std::size_t>(1, std::min(batch_rows, kMaxParameters / table.columns.size()))) {}

  // Copies; returns the source's checksum. `max_id[column]` gets the largest value of each
  // identity column.
  std::string run(sqlite::Connection& source, const std::vector<std::string>& identity,
                  std::map<std::string, std::int64_t>& max_id, const std::function<void(std::int64_t)>& progress) {
    sqlite::Statement rows = source.prepare(select_rows(table_, false));
    while (rows.step()) {
      for (std::size_t i = 0; i < table_.columns.size(); ++i) add_field(rows, i, identity, max_id);
      checksum_.end_row();
      if (++pending_ == batch_rows_) {
        flush();
        progress(checksum_.rows());
      }
    }
    flush();
    progress(checksum_.rows());
    return checksum_.finish();
  }

  std::int64_t rows() const noexcept { return checksum_.rows(); }

 private:
  void add_field(sqlite::Statement& rows, std::size_t i, const std::vector<std::string>& identity,
                 std::map<std::string, std::int64_t>& max_id) {
    const int column = static_cast<int>(i);
    const ColumnInfo& info = table_.columns[i];
    if (rows.column_is_null(column)) {
      params_.add_null();
      checksum_.add_null();
      return;
    }
    switch (info.type) {
      case ColumnType::integer:
      case ColumnType::boolean: {
        const std::int64_t value = rows.column_int64(column);
        params_.add(value);   // PostgreSQL's boolean input takes 1 and 0
        checksum_.add_integer(value);
        if (std::find(identity.begin(), identity.end(), info.name) != identity.end()) {
          auto& high = max_id[info.name];
          high = std::max(high, value);
        }
        return;
      }
      case ColumnType::text: {
        const std::string value = rows.column_text(column);
        params_.add(value);
        checksum_.add_text(value);
        return;
      }
      case ColumnType::bytes: {
        const std::vector<std::uint8_t> value = rows.column_blob(column);
        params_.add_bytes(value);
        checksum_.add_bytes(value);
        return;
      }
    }
  }

  void flush() {
    if (pending_ == 0) return;
    std::string sql = "INSERT INTO " + quote_identifier(table_.name) + " (" + joined_columns(table_) + ") VALUES ";
    int parameter = 1;
    for (std::size_t row = 0; row < pending_; ++row) {
      sql += row == 0 ? "(" : ", (";
      for (std::size_t i = 0; i < table_.columns.size(); ++i)
        sql += (i == 0 ? "$" : ", $") + std::to_string(parameter++);
      sql += ")";
    }
    if (seeded_) sql += on_conflict_replace();
    target_.exec(sql, params_);
    params_ = postgres::Params();
    pending_ = 0;
  }

  std::string on_conflict_replace() const {
    std::string key, set;
    for (const std::string& k : table_.primary_key) key += (key.empty() ? "" : ", ") + quote_identifier(k);
    for (const ColumnInfo& c : table_.columns) {
      if (std::find(table_.primary_key.begin(), table_.primary_key.end(), c.name) != table_.primary_key.end()) continue;
      set += (set.empty() ? "" : ", ") + quote_identifier(c.name) + " = EXCLUDED." + quote_identifier(c.name);
    }
    return " ON CONFLICT (" + key + ") DO UPDATE SET " + set;
  }

  const TableInfo& table_;
  postgres::Connection& target_;
  const bool seeded_;
  const std::size_t batch_rows_;
  postgres::Params params_;
  std::size_t pending_ = 0;
  TableChecksum checksum_;
};

// The target's rows of `t`, read back inside the copy's transaction.
TableCheck target_side(postgres::Connection& db, const TableInfo& t) {
  TableChecksum sum;
  db.stream(select_rows(t, true), postgres::Params(), [&](const postgres::Result& r) {
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      const int column = static_cast<int>(i);
      if (r.is_null(0, column)) {
        sum.add_null();
        continue;
      }
      switch (t.columns[i].type) {
        case ColumnType::integer: sum.add_integer(r.int64(0, column)); break;
        case ColumnType::boolean: sum.add_integer(r.boolean(0, column) ? 1 : 0); break;
        case ColumnType::text: sum.add_text(r.text(0, column)); break;
        case ColumnType::bytes: sum.add_bytes(r.bytes(0, column)); break;
      }
    }
    sum.end_row();
  });
  TableCheck check;
  check.table = t.name;
  check.target_rows = sum.rows();
  check.target_sha256 = sum.finish();
  return check;
}

// SQLite's AUTOINCREMENT high-water mark of `table` (https://sqlite.org/autoinc.html): ids
// up to it were handed out, also when their rows are gone, and must not come again.
std::int64_t autoincrement_mark(sqlite::Connection& db, const std::string& table) {
  sqlite::Statement has = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence'");
  has.step();
  if (has.column_int64(0) == 0) return 0;
  sqlite::Statement seq = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = ?1");
  seq.bind(1, table);
  return seq.step() ? seq.column_int64(0) : 0;
}

// Each identity sequence continues after the largest id handed out.
void set_sequences(postgres::Connection& target, sqlite::Connection& source, const TableInfo& t,
                   const std::map<std::string, std::int64_t>& max_id) {
  for (const std::string& column : t.identity) {
    const auto found = max_id.find(column);
    std::int64_t high = found == max_id.end() ? 0 : found->second;
    if (t.primary_key == std::vector<std::string>{column}) high = std::max(high, autoincrement_mark(source, t.name));
    target.exec("SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)",
                postgres::Params().add(quote_identifier(t.name)).add(column).add(std::max<std::int64_t>(high, 1)).add(high >= 1));
  }
}

sqlite::Connection open_source(const std::string& path) {
  try {
    sqlite::Connection db = sqlite::Connection::open(path, false);
    db.exec("PRAGMA busy_timeout = 5000");
    // What a node does when it starts on the file: brings an older schema up to date, and
    // refuses one newer than this binary knows.
    sqlite::migrate(db);
    return db;
  } catch (const LedgerError& e) {
    throw LedgerError("ledger migrate: cannot use the SQLite ledger " + path + ": " + e.what());
  }
}

std::vector<TableCheck> copy_all(sqlite::Connection& source, postgres::Connection& target,
                                 const LedgerCopyOptions& options) {
  std::vector<TableInfo> tables = sqlite::catalog(source);
  const std::vector<TableInfo> theirs = postgres::catalog(target);
  if (const std::string diff = catalog_differences(tables, theirs); !diff.empty())
    throw LedgerError("ledger migrate: the target's schema differs from the SQLite ledger's:\n" + diff);
  require_empty_target(target, theirs, options.own_serial);
  std::map<std::string, const TableInfo*> target_table;
  for (const TableInfo& t : theirs) target_table[t.name] = &t;

  std::vector<TableCheck> checks;
  for (const TableInfo& t : in_dependency_order(std::move(tables))) {
    const TableInfo& pg = *target_table.at(t.name);
    const std::int64_t total = count_rows(source, t);
    const bool seeded = target.exec("SELECT 1 FROM " + quote_identifier(t.name) + " LIMIT 1").rows() > 0;
    // The target's column types (BOOLEAN where SQLite has INTEGER) decide the parameters.
    TableCopier copier(pg, target, seeded, options.batch_rows);
    std::map<std::string, std::int64_t> max_id;
    const auto progress = [&](std::int64_t done) {
      if (options.progress) options.progress(t.name, done, total);
    };
    progress(0);
    const std::string source_sha256 = copier.run(source, pg.identity, max_id, progress);
    set_sequences(target, source, pg, max_id);
    TableCheck check = target_side(target, pg);
    check.source_rows = copier.rows();
    check.source_sha256 = source_sha256;
    checks.push_back(std::move(check));
  }
  return checks;
}

// Drops the tables this run created; "" when done, else what is left (empty tables, which
// a second run uses).
std::string undo_schema(postgres::Connection& target) {
  try {
    postgres::drop_schema(target);
    return "";
  } catch (const std::exception& e) {
    return std::string("; the empty ledger tables it created are still there (") + e.what() +
           "): a second run uses them";
  }
}

}  // namespace

LedgerCopyResult copy_sqlite_ledger_to_postgres(const LedgerCopyOptions& options) {
  sqlite::Connection source = open_source(options.sqlite_path);
  postgres::ConnectOptions connect;
  connect.conninfo = options.target.url;
  connect.password = options.target.password;
  postgres::Connection target = postgres::Connection::open(connect);

  const bool created = postgres::schema_version(target) == 0;
  postgres::migrate(target);
  LedgerCopyResult result;
  try {
    const int source_version = sqlite::schema_version(source);
    if (const int target_version = postgres::schema_version(target); target_version != source_version) {
      throw LedgerError("ledger migrate: the target's schema is at version " + std::to_string(target_version) +
                        ", the SQLite ledger's at " + std::to_string(source_version));
    }
    ReadSnapshot snapshot(source);
    postgres::Transaction tx(target);
    postgres::lock_schema(target);   // nodes starting on the target wait for the copy
    result.tables = copy_all(source, target, options);
    result.committed = std::all_of(result.tables.begin(), result.tables.end(), [](const TableCheck& c) { return c.matches(); });
    if (result.committed) tx.commit();
  } catch (const std::exception& e) {
    throw LedgerError(e.what() + (created ? undo_schema(target) : std::string()));
  }
  if (!result.committed && created) undo_schema(target);
  return result;
}

}  // namespace portcullis::ca
