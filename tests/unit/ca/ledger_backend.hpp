// The ledger suites run against both backends: TEST_P over LedgerBackendKind, each test
// with a fresh ledger (an SQLite file in a temporary folder, or a new database on the
// test binary's PostgreSQL, tests/unit/support/postgres_server.hpp).
#pragma once

#include "ca/ledger/ledger.hpp"
#include "ca/ledger/postgres_db.hpp"
#include "ca/ledger/sqlite_db.hpp"
#include "ledger_fixtures.hpp"
#include "tests/unit/support/postgres_server.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

namespace portcullis::ca::testing {

enum class LedgerBackendKind { sqlite, postgresql };

inline std::string backend_name(const ::testing::TestParamInfo<LedgerBackendKind>& info) {
  return info.param == LedgerBackendKind::sqlite ? "sqlite" : "postgresql";
}

// Where one test's ledger lives, and raw SQL on it (for what the interface does not
// expose: row counts, tampering with the audit log).
class LedgerBackend {
 public:
  explicit LedgerBackend(LedgerBackendKind kind) : kind_(kind) {
    if (kind_ == LedgerBackendKind::sqlite) {
      dir_.emplace();
      path_ = dir_->file("ledger.db");
    } else {
      url_ = portcullis::testing::PostgresServer::shared().create_database();
    }
  }

  LedgerBackendKind kind() const { return kind_; }

  // Opens the ledger (again: reopening keeps what was committed).
  std::unique_ptr<Ledger> open(CommitObserver* commits = nullptr) const {
    if (kind_ == LedgerBackendKind::sqlite) return open_sqlite_ledger(path_, commits);
    PostgresLedgerOptions options;
    options.url = url_;
    options.password = portcullis::testing::PostgresServer::shared().password();
    return open_postgres_ledger(options, commits);
  }

  // Throws LedgerError (SqliteError or PgError) when the statement fails.
  void raw_exec(const std::string& sql) const {
    if (kind_ == LedgerBackendKind::sqlite) {
      auto db = sqlite::Connection::open(path_, false);
      db.exec(sql.c_str());
    } else {
      auto db = postgres::Connection::open(connect_options());
      db.exec(sql);
    }
  }
  std::int64_t raw_int64(const std::string& sql) const {
    if (kind_ == LedgerBackendKind::sqlite) {
      auto db = sqlite::Connection::open(path_, false);
      return db.query_int64(sql.c_str());
    }
    auto db = postgres::Connection::open(connect_options());
    return db.exec(sql).int64(0, 0);
  }

  const std::string& url() const { return url_; }
  const std::string& path() const { return path_; }
  postgres::ConnectOptions connect_options() const {
    postgres::ConnectOptions options;
    options.conninfo = url_;
    options.password = portcullis::testing::PostgresServer::shared().password();
    return options;
  }

 private:
  LedgerBackendKind kind_;
  std::optional<TempDir> dir_;
  std::string path_;
  std::string url_;
};

}  // namespace portcullis::ca::testing
