// Thin RAII layer over the SQLite C API: a connection, prepared statements with bound
// parameters, a statement cache and a BEGIN IMMEDIATE transaction guard. Every sqlite3*
// and sqlite3_stmt* in Portcullis is owned here; nothing else calls close/finalize.
// Private to ca/ (the ledger and its tests).
#pragma once

#include "ca/ledger/ledger.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace portcullis::ca::sqlite {

// An SQLite failure. Carries the extended result code so callers can tell a UNIQUE from
// a PRIMARY KEY violation (https://sqlite.org/rescode.html). The message holds SQLite's
// own text (which names tables and columns, never bound values) and our context.
class SqliteError : public LedgerError {
 public:
  SqliteError(const std::string& message, int extended_code)
      : LedgerError(message), extended_code_(extended_code) {}
  int extended_code() const noexcept { return extended_code_; }
  int primary_code() const noexcept { return extended_code_ & 0xFF; }

 private:
  int extended_code_;
};

struct ConnectionCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using ConnectionPtr = std::unique_ptr<sqlite3, ConnectionCloser>;
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// A prepared statement. Parameters are 1-based, columns 0-based, as in the C API.
// Text is bound SQLITE_TRANSIENT (copied), so temporaries are safe to bind.
class Statement {
 public:
  explicit Statement(StatementPtr stmt) : stmt_(std::move(stmt)) {}

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  // Not copied (SQLITE_STATIC): `value` must stay as it is until the statement is reset
  // or bound anew. For rows written in bulk from memory that outlives the step.
  Statement& bind_static(int index, std::string_view value);
  Statement& bind_blob(int index, std::span<const std::uint8_t> value);
  Statement& bind_null(int index);
  Statement& bind(int index, std::optional<std::int64_t> value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  // true: a row is available; false: done. Throws SqliteError on failure.
  bool step();
  // Steps a statement that returns no rows (INSERT/UPDATE/DELETE without RETURNING).
  void run();

  std::int64_t column_int64(int column) const;
  std::string column_text(int column) const;
  std::vector<std::uint8_t> column_blob(int column) const;
  bool column_is_null(int column) const;

  // Ready for the next use: resets the program and clears every binding.
  void reset() noexcept;

 private:
  void check_bind(int rc, int index);
  StatementPtr stmt_;
};

// A statement from the connection's cache, reset when the handle goes out of scope so the
// next user gets it clean. Two live handles must not share one SQL text.
class CachedStatement {
 public:
  explicit CachedStatement(Statement& stmt) : stmt_(&stmt) {}
  CachedStatement(const CachedStatement&) = delete;
  CachedStatement& operator=(const CachedStatement&) = delete;
  ~CachedStatement() { stmt_->reset(); }
  Statement* operator->() { return stmt_; }
  Statement& operator*() { return *stmt_; }

 private:
  Statement* stmt_;
};

// One sqlite3 connection. Not thread-safe by itself: the owner serialises access.
class Connection {
 public:
  // Opens (creating when `create`) the database; a new file is created with mode 0600.
  static Connection open(const std::string& path, bool create);

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  ~Connection();

  // Runs constant SQL without parameters (pragmas, DDL, BEGIN/COMMIT).
  void exec(const char* sql);
  Statement prepare(std::string_view sql);
  CachedStatement cached(const char* sql);  // keyed by the SQL text's address and content
  std::int64_t query_int64(const char* sql);  // first column of the first row

  std::int64_t last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_.get()); }
  sqlite3* handle() const noexcept { return db_.get(); }
  // Told how long each Transaction's COMMIT took (null: nobody); must outlive the connection.
  void observe_commits(CommitObserver* observer) noexcept { commits_ = observer; }
  CommitObserver* commit_observer() const noexcept { return commits_; }

 private:
  explicit Connection(ConnectionPtr db) : db_(std::move(db)) {}
  // Declared after db_ so that it is destroyed first: statements before their connection.
  ConnectionPtr db_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
  CommitObserver* commits_ = nullptr;
};

// Throws SqliteError for a non-OK result code, with sqlite3_errmsg and our context.
[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view context);

// BEGIN IMMEDIATE takes the write lock up front, so a read-then-write transaction never
// fails half-way with SQLITE_BUSY (https://sqlite.org/lang_transaction.html). The
// destructor rolls back whatever was not committed, e.g. when an exception unwinds.
class Transaction {
 public:
  explicit Transaction(Connection& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Connection& db_;
  bool open_ = true;
};

}  // namespace portcullis::ca::sqlite
