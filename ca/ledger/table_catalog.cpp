#include "ca/ledger/table_catalog.hpp"

#include "ca/ledger/schema.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace portcullis::ca {
namespace {

const char* type_name(ColumnType type) {
  switch (type) {
    case ColumnType::integer: return "integer";
    case ColumnType::boolean: return "boolean";
    case ColumnType::text: return "text";
    case ColumnType::bytes: return "bytes";
  }
  return "?";
}

// SQLite keeps a boolean as INTEGER 0/1; every other type must be the same on both sides.
bool compatible(ColumnType sqlite, ColumnType postgres) {
  return sqlite == postgres || (sqlite == ColumnType::integer && postgres == ColumnType::boolean);
}

std::string column_list(const TableInfo& t) {
  std::string out;
  for (const ColumnInfo& c : t.columns) out += (out.empty() ? "" : ", ") + c.name + " " + type_name(c.type);
  return out;
}

}  // namespace

std::string quote_identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

namespace sqlite {
namespace {

// STRICT tables allow exactly these declared types (https://sqlite.org/stricttables.html).
ColumnType sqlite_type(const std::string& table, const std::string& column, const std::string& declared) {
  if (declared == "INTEGER" || declared == "INT") return ColumnType::integer;
  if (declared == "TEXT") return ColumnType::text;
  if (declared == "BLOB") return ColumnType::bytes;
  throw LedgerError("ledger: column " + table + "." + column + " has type " + declared +
                    ", which the ledger's tables do not use");
}

TableInfo describe(Connection& db, const std::string& name) {
  TableInfo t;
  t.name = name;
  std::map<std::int64_t, std::string> key;   // PRAGMA table_info's pk is the 1-based position in the key
  Statement columns = db.prepare("PRAGMA table_info(" + quote_identifier(name) + ")");
  while (columns.step()) {
    const std::string column = columns.column_text(1);
    t.columns.push_back({column, sqlite_type(name, column, columns.column_text(2))});
    if (const std::int64_t pk = columns.column_int64(5); pk > 0) key[pk] = column;
  }
  for (auto& [position, column] : key) t.primary_key.push_back(column);
  Statement foreign = db.prepare("PRAGMA foreign_key_list(" + quote_identifier(name) + ")");
  std::set<std::string> references;
  while (foreign.step()) references.insert(foreign.column_text(2));
  t.references.assign(references.begin(), references.end());
  return t;
}

}  // namespace

std::vector<TableInfo> catalog(Connection& db) {
  std::vector<std::string> names;
  Statement tables = db.prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
  while (tables.step()) names.push_back(tables.column_text(0));
  std::vector<TableInfo> out;
  for (const std::string& name : names) out.push_back(describe(db, name));
  return out;
}

std::vector<TableInfo> ledger_catalog() {
  Connection db = Connection::open(":memory:", true);
  migrate(db);
  return catalog(db);
}

}  // namespace sqlite

namespace postgres {
namespace {

ColumnType postgres_type(const std::string& table, const std::string& column, const std::string& declared) {
  if (declared == "bigint" || declared == "integer" || declared == "smallint") return ColumnType::integer;
  if (declared == "boolean") return ColumnType::boolean;
  if (declared == "text") return ColumnType::text;
  if (declared == "bytea") return ColumnType::bytes;
  throw LedgerError("ledger: column " + table + "." + column + " has type " + declared +
                    ", which the ledger's tables do not use");
}

}  // namespace

std::vector<TableInfo> catalog(Connection& db) {
  std::map<std::string, TableInfo> tables;
  const Result names = db.exec(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'");
  for (int i = 0; i < names.rows(); ++i) tables[names.text(i, 0)].name = names.text(i, 0);
  const Result columns = db.exec(
      "SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns "
      "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position");
  for (int i = 0; i < columns.rows(); ++i) {
    const auto t = tables.find(columns.text(i, 0));
    if (t == tables.end()) continue;   // a view's columns
    const std::string column = columns.text(i, 1);
    t->second.columns.push_back({column, postgres_type(t->first, column, columns.text(i, 2))});
    if (columns.text(i, 3) == "YES") t->second.identity.push_back(column);
  }
  // Key columns in key order, and referenced tables, from pg_constraint.
  const Result keys = db.exec(
      "SELECT c.conrelid::regclass::text, c.contype, a.attname, k.n "
      "FROM pg_constraint c JOIN pg_namespace s ON s.oid = c.connamespace "
      "CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) "
      "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
      "WHERE s.nspname = 'public' AND c.contype = 'p' ORDER BY 1, k.n");
  for (int i = 0; i < keys.rows(); ++i) {
    if (const auto t = tables.find(keys.text(i, 0)); t != tables.end()) t->second.primary_key.push_back(keys.text(i, 2));
  }
  const Result foreign = db.exec(
      "SELECT DISTINCT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
      "JOIN pg_namespace s ON s.oid = c.connamespace WHERE s.nspname = 'public' AND c.contype = 'f' ORDER BY 1, 2");
  for (int i = 0; i < foreign.rows(); ++i) {
    if (const auto t = tables.find(foreign.text(i, 0)); t != tables.end()) t->second.references.push_back(foreign.text(i, 1));
  }
  std::vector<TableInfo> out;
  for (auto& [name, table] : tables) out.push_back(std::move(table));
  return out;
}

}  // namespace postgres

std::vector<TableInfo> in_dependency_order(std::vector<TableInfo> tables) {
  std::vector<TableInfo> ordered;
  std::set<std::string> placed;
  while (!tables.empty()) {
    const auto ready = std::find_if(tables.begin(), tables.end(), [&](const TableInfo& t) {
      return std::all_of(t.references.begin(), t.references.end(),
                         [&](const std::string& r) { return r == t.name || placed.contains(r); });
    });
    if (ready == tables.end()) throw LedgerError("ledger: the tables' foreign keys form a cycle at " + tables[0].name);
    placed.insert(ready->name);
    ordered.push_back(std::move(*ready));
    tables.erase(ready);
  }
  return ordered;
}

std::string catalog_differences(const std::vector<TableInfo>& sqlite, const std::vector<TableInfo>& postgres) {
  std::map<std::string, const TableInfo*> theirs;
  for (const TableInfo& t : postgres) theirs[t.name] = &t;
  std::string out;
  for (const TableInfo& mine : sqlite) {
    const auto it = theirs.find(mine.name);
    if (it == theirs.end()) {
      out += "table " + mine.name + " is missing in PostgreSQL\n";
      continue;
    }
    const TableInfo& other = *it->second;
    theirs.erase(it);
    bool same = mine.columns.size() == other.columns.size() && mine.primary_key == other.primary_key;
    for (std::size_t i = 0; same && i < mine.columns.size(); ++i) {
      same = mine.columns[i].name == other.columns[i].name && compatible(mine.columns[i].type, other.columns[i].type);
    }
    if (!same) {
      out += "table " + mine.name + ": SQLite (" + column_list(mine) + ") but PostgreSQL (" + column_list(other) + ")\n";
    }
  }
  for (const auto& [name, table] : theirs) out += "table " + name + " is only in PostgreSQL\n";
  return out;
}

}  // namespace portcullis::ca
