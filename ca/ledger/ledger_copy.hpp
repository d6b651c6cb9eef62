// `portcullis ledger migrate`: copies an SQLite ledger into an empty PostgreSQL database.
//
// Every table the SQLite ledger has (read from its catalog, so a table added by a later
// schema version is copied without a change here) goes over in batches inside ONE
// PostgreSQL transaction, ids included; the identity sequences are then set past the
// copied ids (past SQLite's AUTOINCREMENT high-water mark for the audit log, whose ids are
// never reused). Before COMMIT both sides are read back: row count and a checksum per
// table (table_checksum.hpp). Any difference, error or kill leaves the target as it was:
// the transaction is not committed, and tables the copy created are dropped again (after
// a kill they stay, empty, and a second run uses them).
#pragma once

#include "ca/ledger/ledger.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace portcullis::ca {

struct TableCheck {
  std::string table;
  std::int64_t source_rows = 0;
  std::int64_t target_rows = 0;
  std::string source_sha256;
  std::string target_sha256;
  bool matches() const noexcept { return source_rows == target_rows && source_sha256 == target_sha256; }
};

struct LedgerCopyOptions {
  std::string sqlite_path;
  PostgresLedgerOptions target;
  std::size_t batch_rows = 500;
  // The first serial of this node's CA (its RA certificate), to tell a target holding this
  // ledger already from one holding another CA's. May be empty.
  std::string own_serial;
  // After each batch: the table, rows copied so far, rows it has.
  std::function<void(const std::string& table, std::int64_t copied, std::int64_t total)> progress;
};

struct LedgerCopyResult {
  std::vector<TableCheck> tables;   // in copy order
  bool committed = false;           // false: some table differs, nothing was kept
};

// Throws LedgerError when the source or the target cannot be used (the target holds
// ledger rows, or a schema that differs from the source's), or the copy fails.
LedgerCopyResult copy_sqlite_ledger_to_postgres(const LedgerCopyOptions& options);

}  // namespace portcullis::ca
