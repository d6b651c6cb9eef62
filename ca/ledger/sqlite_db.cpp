#include "ca/ledger/sqlite_db.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>

namespace portcullis::ca::sqlite {

namespace {

// SQLITE_FULL (https://sqlite.org/rescode.html#full) is the one failure the caller can
// tell its client to retry: it has its own type.
[[noreturn]] void throw_sqlite(const std::string& message, int extended) {
  if ((extended & 0xFF) == SQLITE_FULL) throw LedgerFull(message);
  throw SqliteError(message, extended);
}

}  // namespace

void throw_error(sqlite3* db, int rc, std::string_view context) {
  const int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  std::string message = "ledger: ";
  message.append(context);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (sqlite code " + std::to_string(extended) + ")";
  throw_sqlite(message, extended);
}

// --- Statement ------------------------------------------------------------------

void Statement::check_bind(int rc, int index) {
  if (rc != SQLITE_OK) {
    throw_error(sqlite3_db_handle(stmt_.get()), rc, "binding parameter " + std::to_string(index));
  }
}

Statement& Statement::bind(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_.get(), index, value), index);
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  check_bind(sqlite3_bind_text64(stmt_.get(), index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
             index);
  return *this;
}

Statement& Statement::bind_static(int index, std::string_view value) {
  // A null pointer would bind NULL; an empty text stays text.
  const char* data = value.data() != nullptr ? value.data() : "";
  check_bind(sqlite3_bind_text64(stmt_.get(), index, data, value.size(), SQLITE_STATIC, SQLITE_UTF8), index);
  return *this;
}

Statement& Statement::bind_blob(int index, std::span<const std::uint8_t> value) {
  // A zero-length blob must still be a BLOB, not NULL: sqlite3_bind_blob64 with a null
  // pointer binds NULL, so use zeroblob for the empty case.
  const int rc = value.empty() ? sqlite3_bind_zeroblob(stmt_.get(), index, 0)
                               : sqlite3_bind_blob64(stmt_.get(), index, value.data(), value.size(), SQLITE_TRANSIENT);
  check_bind(rc, index);
  return *this;
}

Statement& Statement::bind_null(int index) {
  check_bind(sqlite3_bind_null(stmt_.get(), index), index);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Reset here so the statement's error is reported and it is reusable; sqlite3_reset
  // returns the same error code as the failed step.
  const char* sql = sqlite3_sql(stmt_.get());
  std::string context = "executing ";
  context.append(sql != nullptr ? std::string_view(sql).substr(0, 60) : std::string_view("statement"));
  sqlite3* db = sqlite3_db_handle(stmt_.get());
  const int extended = sqlite3_extended_errcode(db);
  std::string message = "ledger: " + context + ": " + sqlite3_errmsg(db) + " (sqlite code " +
                        std::to_string(extended) + ")";
  sqlite3_reset(stmt_.get());
  throw_sqlite(message, extended);
}

void Statement::run() {
  while (step()) {
  }
}

std::int64_t Statement::column_int64(int column) const { return sqlite3_column_int64(stmt_.get(), column); }

std::string Statement::column_text(int column) const {
  const auto* text = sqlite3_column_text(stmt_.get(), column);
  if (text == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt_.get(), column);  // after _text, per the docs
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::vector<std::uint8_t> Statement::column_blob(int column) const {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_.get(), column));
  const int size = sqlite3_column_bytes(stmt_.get(), column);
  if (data == nullptr || size <= 0) return {};
  return std::vector<std::uint8_t>(data, data + size);
}

bool Statement::column_is_null(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }

void Statement::reset() noexcept {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

// --- Connection -----------------------------------------------------------------

namespace {

// SQLite would create a missing file with 0644 (less the umask); a CA ledger holds
// device names and audit history, so create it 0600 ourselves. The -wal and -shm files
// take the database file's permissions (https://sqlite.org/tempfiles.html).
void create_private_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return;
  }
  if (errno == EEXIST) return;
  throw LedgerError("ledger: cannot create " + path + ": " + std::strerror(errno));
}

}  // namespace

Connection Connection::open(const std::string& path, bool create) {
  const bool in_memory = path == ":memory:" || path.empty();
  if (create && !in_memory) create_private_file(path);
  // NOMUTEX: the owner serialises every use of this connection with its own mutex, so
  // SQLite's per-connection mutex would only be a second lock (https://sqlite.org/threadsafe.html).
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (create) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(in_memory ? ":memory:" : path.c_str(), &raw, flags, nullptr);
  ConnectionPtr db(raw);  // owns the handle even when open failed
  if (rc != SQLITE_OK) throw_error(db.get(), rc, "opening " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  return Connection(std::move(db));
}

Connection::~Connection() { cache_.clear(); }

void Connection::exec(const char* sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &error);
  sqlite3_free(error);  // the same text is available from sqlite3_errmsg
  if (rc != SQLITE_OK) throw_error(db_.get(), rc, std::string("executing ") + std::string(sql).substr(0, 60));
}

Statement Connection::prepare(std::string_view sql) {
  if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw LedgerError("ledger: SQL text too long");
  }
  sqlite3_stmt* raw = nullptr;
  const int rc =
      sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  StatementPtr stmt(raw);
  if (rc != SQLITE_OK) throw_error(db_.get(), rc, "preparing " + std::string(sql.substr(0, 60)));
  if (!stmt) throw LedgerError("ledger: empty SQL statement");
  return Statement(std::move(stmt));
}

CachedStatement Connection::cached(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    it = cache_.emplace(sql, std::make_unique<Statement>(prepare(sql))).first;
  }
  return CachedStatement(*it->second);
}

std::int64_t Connection::query_int64(const char* sql) {
  Statement stmt = prepare(sql);
  if (!stmt.step()) throw LedgerError(std::string("ledger: no result from ") + sql);
  return stmt.column_int64(0);
}

// --- Transaction ----------------------------------------------------------------

Transaction::Transaction(Connection& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!open_) return;
  // ROLLBACK can only fail when there is no transaction left (SQLite may already have
  // rolled back after an I/O error or SQLITE_FULL); nothing more to undo then.
  sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  const auto started = std::chrono::steady_clock::now();
  db_.exec("COMMIT");
  open_ = false;
  if (CommitObserver* observer = db_.commit_observer()) observer->committed(std::chrono::steady_clock::now() - started);
}

}  // namespace portcullis::ca::sqlite
