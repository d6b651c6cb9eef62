// `ledger migrate`'s parts: the backend-independent checksum's canonical text, the
// comparison of the two catalogs, and a copy whose read-back differs (nothing is kept).
#include "ca/ledger/ledger_copy.hpp"
#include "ca/ledger/table_catalog.hpp"
#include "ca/ledger/table_checksum.hpp"
#include "ca/x509.hpp"
#include "ledger_backend.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace portcullis::ca {
namespace {

using testing::LedgerBackend;
using testing::LedgerBackendKind;

std::string sha256_of(const std::string& text) {
  return sha256_lower_hex(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

TEST(TableChecksum, IsTheSha256OfTheCanonicalRows) {
  TableChecksum sum;
  // An empty first field still gets its tab; NULL and empty text differ.
  sum.add_text("");
  sum.add_null();
  sum.add_integer(-42);
  sum.end_row();
  sum.add_text("a\tb\nc\rd\\e \\N");
  const std::vector<std::uint8_t> bytes{0x00, 0xAB, 0xFF};
  sum.add_bytes(bytes);
  sum.end_row();
  EXPECT_EQ(sum.rows(), 2);
  EXPECT_EQ(sum.finish(), sha256_of("\t\\N\t-42\n"
                                    "a\\tb\\nc\\rd\\\\e \\\\N\t\\x00abff\n"));
}

TEST(TableChecksum, OfNoRowsIsTheSha256OfNothing) {
  TableChecksum sum;
  EXPECT_EQ(sum.finish(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TableCatalog, BothBackendsDescribeTheSameLedgerAndADifferenceIsNamed) {
  const LedgerBackend postgres_side(LedgerBackendKind::postgresql);
  postgres_side.open().reset();
  const std::vector<TableInfo> mine = sqlite::ledger_catalog();
  auto db = postgres::Connection::open(postgres_side.connect_options());
  EXPECT_EQ(catalog_differences(mine, postgres::catalog(db)), "");
  // Foreign keys order the copy: devices before the certificates that reference them.
  const auto ordered = in_dependency_order(mine);
  const auto at = [&](const char* name) {
    return std::find_if(ordered.begin(), ordered.end(), [&](const TableInfo& t) { return t.name == name; }) -
           ordered.begin();
  };
  EXPECT_LT(at("devices"), at("certificates"));
  EXPECT_LT(at("certificates"), at("scep_transactions"));

  db.exec("ALTER TABLE events ADD COLUMN extra TEXT; CREATE TABLE stray (id BIGINT PRIMARY KEY)");
  const std::string diff = catalog_differences(mine, postgres::catalog(db));
  EXPECT_NE(diff.find("table events: SQLite ("), std::string::npos) << diff;
  EXPECT_NE(diff.find("table stray is only in PostgreSQL"), std::string::npos) << diff;
  std::vector<TableInfo> fewer = mine;
  fewer.push_back({"newer_table", {{"id", ColumnType::integer}}, {"id"}, {}, {}});
  EXPECT_NE(catalog_differences(fewer, postgres::catalog(db)).find("table newer_table is missing in PostgreSQL"),
            std::string::npos);
}

// A target that stores something other than what was sent (here a trigger rewriting
// devices.owner) is caught by the read-back before COMMIT: nothing is kept.
TEST(LedgerCopy, ARowThatDiffersOnTheTargetKeepsNothing) {
  const LedgerBackend source(LedgerBackendKind::sqlite);
  {
    auto ledger = source.open();
    ledger->create_device({"laptop-1", "Laptop\tone", "ana", {"staff"}}, "test");
  }
  const LedgerBackend target(LedgerBackendKind::postgresql);
  target.open().reset();
  target.raw_exec(
      "CREATE FUNCTION rewrite_owner() RETURNS trigger LANGUAGE plpgsql AS $$ "
      "BEGIN NEW.owner := 'mallory'; RETURN NEW; END $$; "
      "CREATE TRIGGER rewrite_owner BEFORE INSERT ON devices FOR EACH ROW EXECUTE FUNCTION rewrite_owner()");
  LedgerCopyOptions options;
  options.sqlite_path = source.path();
  options.target.url = target.url();
  options.target.password = target.connect_options().password;
  const LedgerCopyResult result = copy_sqlite_ledger_to_postgres(options);
  EXPECT_FALSE(result.committed);
  for (const TableCheck& check : result.tables) {
    EXPECT_EQ(check.matches(), check.table != "devices") << check.table;
    if (check.table == "devices") EXPECT_EQ(check.source_rows, check.target_rows);
  }
  EXPECT_EQ(target.raw_int64("SELECT count(*) FROM devices"), 0);
  EXPECT_EQ(target.raw_int64("SELECT count(*) FROM audit"), 0);
}

TEST(LedgerCopy, RefusesATargetThatHoldsRows) {
  const LedgerBackend source(LedgerBackendKind::sqlite);
  source.open().reset();
  const LedgerBackend target(LedgerBackendKind::postgresql);
  target.open()->create_device({"already-here", "", "", {}}, "test");
  LedgerCopyOptions options;
  options.sqlite_path = source.path();
  options.target.url = target.url();
  options.target.password = target.connect_options().password;
  try {
    copy_sqlite_ledger_to_postgres(options);
    FAIL() << "a target holding a device was accepted";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("is not empty (table "), std::string::npos) << e.what();
  }
  EXPECT_EQ(target.raw_int64("SELECT count(*) FROM devices"), 1);
}

}  // namespace
}  // namespace portcullis::ca
