// The ledger's tables as each backend's catalog describes them: names, columns in order
// with their types, primary key and the tables a table references. Read from the database
// itself (sqlite_schema / PRAGMA table_info, information_schema), so that a tool working
// on every table (`ledger migrate`) cannot forget one added by a later schema version.
// Private to ca/.
#pragma once

#include "ca/ledger/postgres_db.hpp"
#include "ca/ledger/sqlite_db.hpp"

#include <string>
#include <vector>

namespace portcullis::ca {

// What a value is, across both backends: SQLite (STRICT tables) has no boolean, a
// PostgreSQL BOOLEAN holds what SQLite keeps as INTEGER 0/1.
enum class ColumnType { integer, boolean, text, bytes };

struct ColumnInfo {
  std::string name;
  ColumnType type = ColumnType::text;
};

struct TableInfo {
  std::string name;
  std::vector<ColumnInfo> columns;        // in the table's order
  std::vector<std::string> primary_key;   // in key order; empty: none
  std::vector<std::string> references;    // tables its foreign keys point at
  std::vector<std::string> identity;      // PostgreSQL: columns fed by a sequence
};

// Identifiers come from the catalog, never from input; quoted anyway.
std::string quote_identifier(const std::string& name);

namespace sqlite {
// The user tables (not sqlite_*), sorted by name. Throws LedgerError for a column type a
// STRICT ledger table cannot have.
std::vector<TableInfo> catalog(Connection& db);
// The tables of a new ledger at the latest schema version (an in-memory database).
std::vector<TableInfo> ledger_catalog();
}  // namespace sqlite

namespace postgres {
// The base tables of the `public` schema, sorted by name.
std::vector<TableInfo> catalog(Connection& db);
}  // namespace postgres

// Tables ordered so that each comes after those it references (foreign keys). Throws
// LedgerError on a cycle.
std::vector<TableInfo> in_dependency_order(std::vector<TableInfo> tables);

// "" when both describe the same tables with the same columns (names, order, compatible
// types); otherwise what differs, one finding a line.
std::string catalog_differences(const std::vector<TableInfo>& sqlite, const std::vector<TableInfo>& postgres);

}  // namespace portcullis::ca
