// The PostgreSQL ledger's schema: the same tables, columns (in the same order), keys,
// constraints and append-only audit log as the SQLite schema (schema.hpp), in
// PostgreSQL's types. Private to ca/ (the ledger and its tests).
//
// The version numbers are shared with SQLite: a PostgreSQL ledger at version N has the
// tables an SQLite ledger at version N has. No PostgreSQL ledger predates version 8, so
// an empty database gets the version-8 schema in one step; every later schema change is a
// step in both lists, and a unit test checks that both backends end with the same tables
// and columns. The version is kept in meta ('schema_version').
#pragma once

#include "ca/ledger/postgres_db.hpp"

namespace portcullis::ca::postgres {

int latest_schema_version() noexcept;

// 0 for a database without the ledger's tables.
int schema_version(Connection& db);

// Creates or upgrades the schema, in one transaction under an advisory lock, so that
// nodes starting together on one database migrate it once. Throws LedgerError, naming
// both versions, when the ledger is newer than this binary supports.
void migrate(Connection& db);

// Inside the caller's transaction: waits for, then holds until its end, the lock that
// migrate() takes, so nodes starting on the database wait too.
void lock_schema(Connection& db);

// Drops every ledger table (the tables of schema.cpp's latest version) and what the
// PostgreSQL schema adds (the change feed, the audit trigger function), in one
// transaction. For a database whose ledger tables the caller has just created and that
// must not keep them (a failed `init` or `ledger migrate`).
void drop_schema(Connection& db);

}  // namespace portcullis::ca::postgres
