#include "ca/ledger/postgres_setup.hpp"

#include "ca/ledger/postgres_schema.hpp"

namespace portcullis::ca {
namespace {

postgres::Connection connect(const PostgresLedgerOptions& options) {
  postgres::ConnectOptions connect;
  connect.conninfo = options.url;
  connect.password = options.password;
  return postgres::Connection::open(connect);
}

}  // namespace

bool postgres_ledger_exists(const PostgresLedgerOptions& options) {
  postgres::Connection db = connect(options);
  return postgres::schema_version(db) != 0;
}

void drop_postgres_ledger(const PostgresLedgerOptions& options) {
  postgres::Connection db = connect(options);
  postgres::drop_schema(db);
}

}  // namespace portcullis::ca
