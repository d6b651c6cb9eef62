// Thin RAII layer over libpq (https://www.postgresql.org/docs/15/libpq.html): a connection,
// results, parameters sent apart from the SQL text, a transaction guard and a small pool.
// Every PGconn* and PGresult* in Portcullis is owned here. Private to ca/ (the PostgreSQL
// ledger and its tests).
//
// libpq's C API rather than libpqxx: the SQLite ledger already sits on a layer of this
// shape over a C API (sqlite_db.hpp), and Debian 12's libpqxx 6.4 predates C++20.
#pragma once

#include "ca/ledger/commit_observer.hpp"
#include "ca/ledger/errors.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::ca::postgres {

// A failed statement or connection. The message is the server's primary message (it
// names tables and constraints, never a password) with our context. `sqlstate` is the
// five-character SQLSTATE (https://www.postgresql.org/docs/15/errcodes-appendix.html),
// `constraint` the violated constraint's name when there is one.
class PgError : public LedgerError {
 public:
  PgError(const std::string& message, std::string sqlstate, std::string constraint)
      : LedgerError(message), sqlstate_(std::move(sqlstate)), constraint_(std::move(constraint)) {}
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  const std::string& constraint() const noexcept { return constraint_; }
  bool unique_violation() const noexcept { return sqlstate_ == "23505"; }

 private:
  std::string sqlstate_;
  std::string constraint_;
};

struct ResultClearer {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
struct ConnectionFinisher {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;
using ConnectionPtr = std::unique_ptr<PGconn, ConnectionFinisher>;

// A result in text format. Rows and columns are 0-based.
class Result {
 public:
  explicit Result(ResultPtr result) : result_(std::move(result)) {}
  int rows() const noexcept { return PQntuples(result_.get()); }
  bool is_null(int row, int column) const noexcept { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const;
  std::int64_t int64(int row, int column) const;
  bool boolean(int row, int column) const;
  std::vector<std::uint8_t> bytes(int row, int column) const;   // a bytea column
  std::optional<std::int64_t> optional_int64(int row, int column) const;
  std::size_t affected() const;   // rows an INSERT/UPDATE/DELETE touched
  std::string command_status() const;   // "COMMIT", "INSERT 0 1", …

 private:
  ResultPtr result_;
};

// Statement parameters $1, $2, … in order: text, except bytea, which is sent binary.
class Params {
 public:
  Params& add(std::int64_t value) { return add_text(std::to_string(value)); }
  Params& add(bool value) { return add_text(value ? "t" : "f"); }
  Params& add(std::string_view value) { return add_text(std::string(value)); }
  Params& add(const char* value) { return add_text(value); }
  Params& add(const std::string& value) { return add_text(value); }
  Params& add(std::optional<std::int64_t> value) { return value ? add(*value) : add_null(); }
  Params& add(const std::optional<std::string>& value) { return value ? add(*value) : add_null(); }
  Params& add_bytes(std::span<const std::uint8_t> value);
  Params& add_null();

  int size() const noexcept { return static_cast<int>(values_.size()); }
  // Valid until the next add().
  std::vector<const char*> pointers() const;
  const int* lengths() const noexcept { return lengths_.data(); }
  const int* formats() const noexcept { return formats_.data(); }

 private:
  Params& add_text(std::string value);
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// Where and as whom to connect. `conninfo` is a libpq connection string or URI
// (https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNSTRING); it must not
// carry a password. `password` empty: libpq's own sources (PGPASSFILE, ~/.pgpass).
struct ConnectOptions {
  std::string conninfo;
  std::string password;
  std::chrono::seconds connect_timeout{5};
};

// Throws LedgerError for a conninfo libpq cannot parse, or one that carries a password
// (it belongs in a password file, not in the configuration).
void check_conninfo(const std::string& conninfo);

// One connection. Not thread-safe by itself: the pool hands it to one user at a time.
class Connection {
 public:
  static Connection open(const ConnectOptions& options);

  // Statements without parameters (DDL, BEGIN/COMMIT) and with them. Throw PgError.
  Result exec(std::string_view sql);
  Result exec(std::string_view sql, const Params& params);
  // Rows one at a time (libpq's single-row mode), for bulk reads that should not hold the
  // whole table in memory: `row` is called with a one-row Result.
  void stream(std::string_view sql, const Params& params, const std::function<void(const Result& row)>& row);
  // After LISTEN: waits up to `timeout` for notifications and consumes them; true when
  // one or more arrived. Throws PgError when the connection is lost.
  bool wait_for_notification(std::chrono::milliseconds timeout);

  bool broken() const noexcept { return PQstatus(conn_.get()) != CONNECTION_OK; }
  PGconn* handle() const noexcept { return conn_.get(); }
  void observe_commits(CommitObserver* observer) noexcept { commits_ = observer; }
  CommitObserver* commit_observer() const noexcept { return commits_; }

 private:
  explicit Connection(ConnectionPtr conn) : conn_(std::move(conn)) {}
  Result check(PGresult* raw, std::string_view sql);
  ConnectionPtr conn_;
  CommitObserver* commits_ = nullptr;
};

// BEGIN … COMMIT on one connection; the destructor rolls back what was not committed.
// READ COMMITTED (PostgreSQL's default): every conditional UPDATE re-checks its WHERE on
// the newest row version after waiting for a concurrent writer
// (https://www.postgresql.org/docs/15/transaction-iso.html#XACT-READ-COMMITTED), which is
// what makes "mark the challenge used unless it already is" exactly-once.
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

// Up to `size` connections, opened when first needed. acquire() waits for a free one; a
// connection that broke (server restart, network) is dropped when returned, so the next
// user opens a fresh one instead of failing on a dead socket.
class Pool {
 public:
  Pool(ConnectOptions options, std::size_t size);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> conn) : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  Lease acquire();
  void observe_commits(CommitObserver* observer) noexcept { commits_ = observer; }

 private:
  void release(std::unique_ptr<Connection> conn) noexcept;

  const ConnectOptions options_;
  const std::size_t size_;
  CommitObserver* commits_ = nullptr;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;   // idle + leased
};

}  // namespace portcullis::ca::postgres
