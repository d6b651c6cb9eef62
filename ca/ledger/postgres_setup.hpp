// Setting a PostgreSQL ledger up and taking it down again, for `portcullis init --ledger`:
// a database that had no ledger tables before a failed init must not keep the ones init
// created (a second init would find a half-made CA's certificates and refuse).
#pragma once

#include "ca/ledger/ledger.hpp"

namespace portcullis::ca {

// Whether the database holds the ledger's tables (at any schema version).
bool postgres_ledger_exists(const PostgresLedgerOptions& options);

// Drops the ledger's tables and everything else the ledger's schema creates, in one
// transaction. Only for a ledger the caller created and nobody else uses.
void drop_postgres_ledger(const PostgresLedgerOptions& options);

}  // namespace portcullis::ca
