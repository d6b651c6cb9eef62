// The SQLite ledger's schema and its migrations. Private to ca/ (the ledger and its tests).
//
// The schema version lives in PRAGMA user_version (https://sqlite.org/pragma.html#pragma_user_version).
// Migration N takes a ledger from version N-1 to N; each runs in its own transaction
// together with the user_version bump, so a crash leaves the ledger at N-1 or N, never
// in between. Released migrations are never edited: a schema change is a new step.
#pragma once

#include "ca/ledger/sqlite_db.hpp"

namespace portcullis::ca::sqlite {

// The newest schema this binary knows.
int latest_schema_version() noexcept;

int schema_version(Connection& db);

// Applies the missing migrations up to `target` (the latest when 0). Throws LedgerError,
// naming both versions, when the ledger is newer than this binary supports.
void migrate(Connection& db, int target = 0);

}  // namespace portcullis::ca::sqlite
