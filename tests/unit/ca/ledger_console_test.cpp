// The ledger queries the console reads through, on both backends: devices by group, MAC and
// serial with the count of all matches, the change of a device's groups, sessions by NAS,
// SSID, device and id, the overview's event counts; and the indexes behind them, which
// both schemas must create.
#include "ca/ledger/event_counts.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/ledger/schema.hpp"
#include "ca/ledger/sqlite_db.hpp"
#include "ledger_backend.hpp"
#include "ledger_fixtures.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace portcullis::ca {
namespace {

using testing::audit_where;
using testing::backend_name;
using testing::device_id_ref;
using testing::devices_where;
using testing::LedgerBackend;
using testing::LedgerBackendKind;
using testing::make_record;

class LedgerDevicesTest : public ::testing::TestWithParam<LedgerBackendKind> {
 protected:
  LedgerBackend backend{GetParam()};
  std::unique_ptr<Ledger> ledger = backend.open();

  Device device(const std::string& name, std::vector<std::string> groups = {}) {
    return ledger->create_device({name, "", "", std::move(groups)}, "test");
  }
  CertificateRecord issue(std::int64_t device_id) {
    CertificateRecord r = make_record();
    ledger->record_issuance(device_id_ref(device_id), r, "test");
    return r;
  }
  std::vector<std::string> names(const DeviceFilter& f) {
    std::vector<std::string> out;
    for (const auto& d : ledger->list_devices(f)) out.push_back(d.name);
    EXPECT_EQ(ledger->count_devices(f), out.size());
    return out;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, LedgerDevicesTest,
                         ::testing::Values(LedgerBackendKind::sqlite, LedgerBackendKind::postgresql), backend_name);

TEST_P(LedgerDevicesTest, FiltersByGroupSerialAndEnabledTogether) {
  const Device a = device("alpha", {"staff", "byod"});
  const Device b = device("beta", {"staff"});
  device("gamma", {"guests"});
  const CertificateRecord cert = issue(b.id);
  issue(a.id);
  ledger->set_device_enabled(b.id, false, "test");

  DeviceFilter f;
  f.group = "staff";
  EXPECT_EQ(names(f), (std::vector<std::string>{"alpha", "beta"}));
  f.enabled = true;
  EXPECT_EQ(names(f), (std::vector<std::string>{"alpha"}));
  f = {};
  f.group = "Staff";  // exact: group names are case-sensitive, as the policy compares them
  EXPECT_TRUE(names(f).empty());
  f = {};
  f.serial = cert.serial_hex;
  EXPECT_EQ(names(f), (std::vector<std::string>{"beta"}));
  f.serial = "00";
  EXPECT_TRUE(names(f).empty());
}

TEST_P(LedgerDevicesTest, FiltersByAMacFromEventsOrFromSessionsInAnySpelling) {
  const Device a = device("alpha");
  const Device b = device("beta");
  device("gamma");
  // alpha's MAC only in a decision event (normalised there).
  Event e;
  e.at = 1'700'000'000;
  e.kind = "radius";
  e.outcome = "accept";
  e.mac = "02:00:5e:10:00:01";
  e.device = "alpha";
  ledger->append_events({e});
  // beta's only in an accounting session of its certificate, spelt as the NAS sent it.
  const CertificateRecord cert = issue(b.id);
  RadiusSessionRow s;
  s.nas = "wlc";
  s.acct_session_id = "s-1";
  s.serial = cert.serial_hex;
  s.calling_station_id = "02-00-5E-10-00-02";
  s.started_at = s.updated_at = 1'700'000'000;
  ledger->record_radius_session(s);
  s.acct_session_id = "s-2";
  s.calling_station_id = "0200.5e10.0003";
  ledger->record_radius_session(s);

  DeviceFilter f;
  f.mac = "02:00:5e:10:00:01";
  EXPECT_EQ(names(f), (std::vector<std::string>{"alpha"}));
  f.mac = "02:00:5e:10:00:02";
  EXPECT_EQ(names(f), (std::vector<std::string>{"beta"}));
  f.mac = "02:00:5e:10:00:03";
  EXPECT_EQ(names(f), (std::vector<std::string>{"beta"}));
  f.mac = "02:00:5e:10:00:04";
  EXPECT_TRUE(names(f).empty());
  (void)a;
}

TEST_P(LedgerDevicesTest, CountIgnoresThePage) {
  for (int i = 0; i < 25; ++i) device("d" + std::to_string(100 + i), {i % 2 == 0 ? "even" : "odd"});
  DeviceFilter f = devices_where("", {}, 10, 20);
  EXPECT_EQ(ledger->list_devices(f).size(), 5u);
  EXPECT_EQ(ledger->count_devices(f), 25u);
  f.group = "even";
  f.offset = 10;
  EXPECT_EQ(ledger->list_devices(f).size(), 3u);
  EXPECT_EQ(ledger->count_devices(f), 13u);
  f = devices_where("d11");
  EXPECT_EQ(ledger->count_devices(f), 10u);
}

TEST_P(LedgerDevicesTest, SetGroupsReplacesThemAndIsAuditedOnlyWhenTheyChange) {
  const Device d = device("phone", {"staff"});
  const Device changed = ledger->set_device_groups(d.id, {"voice", "byod", "voice"}, "api:ops");
  EXPECT_EQ(changed.groups, (std::vector<std::string>{"byod", "voice"}));
  EXPECT_EQ(ledger->find_device(d.id)->groups, (std::vector<std::string>{"byod", "voice"}));
  ledger->set_device_groups(d.id, {"byod", "voice"}, "api:ops");  // the same: no new row
  auto audit = ledger->audit(audit_where("phone", std::string("device.groups")));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "api:ops");
  EXPECT_EQ(audit[0].detail, "id=" + std::to_string(d.id) + " groups: staff -> byod,voice");
  EXPECT_TRUE(ledger->set_device_groups(d.id, {}, "api:ops").groups.empty());
  EXPECT_EQ(ledger->audit(audit_where("phone", std::string("device.groups")))[0].detail,
            "id=" + std::to_string(d.id) + " groups: byod,voice -> (none)");

  // Refused before any write: an unknown device, a group name with a control character.
  EXPECT_THROW(ledger->set_device_groups(9999, {"x"}, "api:ops"), LedgerNotFound);
  EXPECT_THROW(ledger->set_device_groups(d.id, {"ok", "bad\nname"}, "api:ops"), LedgerConflict);
  EXPECT_TRUE(ledger->find_device(d.id)->groups.empty());
  EXPECT_EQ(ledger->audit(audit_where("phone", std::string("device.groups"))).size(), 2u);
}

TEST_P(LedgerDevicesTest, SessionsByIdNasSsidAndDeviceKeepTheirIdAndSsid) {
  const Device d = device("tablet");
  const CertificateRecord cert = issue(d.id);
  RadiusSessionRow s;
  s.nas = "wlc-1";
  s.acct_session_id = "a";
  s.serial = cert.serial_hex;
  s.ssid = "corp";
  s.started_at = s.updated_at = 100;
  ledger->record_radius_session(s);
  s.nas = "wlc-2";
  s.acct_session_id = "b";
  s.serial = "";
  s.ssid = "guest";
  s.updated_at = 200;
  ledger->record_radius_session(s);

  RadiusSessionFilter f;
  const auto all = ledger->radius_sessions(f);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].acct_session_id, "b");  // newest first
  const std::int64_t id_a = all[1].id;
  EXPECT_NE(id_a, all[0].id);
  // An update without the SSID keeps it, and the id.
  s.nas = "wlc-1";
  s.acct_session_id = "a";
  s.ssid = "";
  s.updated_at = 300;
  ledger->record_radius_session(s);
  f.id = id_a;
  auto one = ledger->radius_sessions(f);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].ssid, "corp");
  EXPECT_EQ(one[0].device, "tablet");
  f = {};
  f.ssid = "guest";
  EXPECT_EQ(ledger->radius_sessions(f).at(0).acct_session_id, "b");
  f = {};
  f.nas = "wlc-1";
  f.device = "tablet";
  EXPECT_EQ(ledger->radius_sessions(f).size(), 1u);
  f.device = "other";
  EXPECT_TRUE(ledger->radius_sessions(f).empty());
  EXPECT_EQ(ledger->list_radius_sessions(true, 1).size(), 1u);
}

TEST_P(LedgerDevicesTest, SummarizeEventsCountsPerMinuteReasonAndNasSince) {
  auto event = [](UnixTime at, const char* kind, const char* outcome, const char* reason, const char* nas) {
    Event e;
    e.at = at;
    e.kind = kind;
    e.outcome = outcome;
    e.reason = reason;
    e.nas = nas;
    return e;
  };
  ledger->append_events({event(6000, "radius", "accept", "ok", "a"), event(6010, "radius", "reject", "revoked", "a"),
                         event(6059, "radius", "accept", "ok", "b"), event(6060, "radius", "reject", "revoked", "b"),
                         event(6061, "radius", "abandoned", "timeout", "b"),
                         event(3599, "radius", "reject", "expired", "a"),  // before `since` and its hour
                         event(6100, "scep", "issued", "ok", ""), event(6101, "scep", "issued", "ok", ""),
                         event(6102, "scep", "reject", "challenge_used", "")});
  const EventSummary s = ledger->summarize_events(6000);
  ASSERT_EQ(s.radius_per_minute.size(), 2u);
  EXPECT_EQ(s.radius_per_minute[0].minute, 100);
  EXPECT_EQ(s.radius_per_minute[0].accepted, 2);
  EXPECT_EQ(s.radius_per_minute[0].rejected, 1);
  EXPECT_EQ(s.radius_per_minute[1].minute, 101);
  EXPECT_EQ(s.radius_per_minute[1].accepted, 0);
  EXPECT_EQ(s.radius_per_minute[1].rejected, 1);
  std::map<std::pair<std::string, std::string>, std::int64_t> rejects;
  for (const auto& r : s.rejects) rejects[{r.reason, r.nas}] = r.count;
  EXPECT_EQ(rejects, (std::map<std::pair<std::string, std::string>, std::int64_t>{{{"revoked", "a"}, 1},
                                                                                   {{"revoked", "b"}, 1}}));
  std::map<std::string, std::int64_t> scep(s.scep_outcomes.begin(), s.scep_outcomes.end());
  EXPECT_EQ(scep, (std::map<std::string, std::int64_t>{{"issued", 2}, {"reject", 1}}));
}

// The counts are kept per batch: a second batch adds to the first's minutes (the upsert),
// and they are the same whether the events came in one batch or one by one.
TEST_P(LedgerDevicesTest, SummaryCountsAddUpAcrossBatches) {
  Event e;
  e.at = 6000;
  e.kind = "radius";
  e.outcome = "reject";
  e.reason = "revoked";
  e.nas = "a";
  ledger->append_events({e, e});
  ledger->append_events({e});
  e.outcome = "accept";
  ledger->append_events({e});
  const EventSummary s = ledger->summarize_events(6000);
  ASSERT_EQ(s.radius_per_minute.size(), 1u);
  EXPECT_EQ(s.radius_per_minute[0].rejected, 3);
  EXPECT_EQ(s.radius_per_minute[0].accepted, 1);
  ASSERT_EQ(s.rejects.size(), 1u);
  EXPECT_EQ(s.rejects[0].count, 3);
  EXPECT_EQ(s.rejects[0].nas, "a");
}

// Retention: counts older than two days go with the next prune of events, whatever the
// events' own retention; the day the overview reads stays.
TEST_P(LedgerDevicesTest, PruneDropsCountsOlderThanTwoDays) {
  const UnixTime now = now_unix();
  Event e;
  e.kind = "scep";
  e.outcome = "issued";
  e.at = now - kEventCountsKeptSeconds - 120;
  Event recent = e;
  recent.at = now - 3600;
  ledger->append_events({e, recent});
  ledger->prune_events(0, 1000000);
  const EventSummary s = ledger->summarize_events(0);
  ASSERT_EQ(s.scep_outcomes.size(), 1u);
  EXPECT_EQ(s.scep_outcomes[0].second, 1);
  EXPECT_EQ(ledger->events({}).size(), 2u);   // the rows themselves follow their own retention
}

std::set<std::string> sqlite_indexes(const std::string& path) {
  auto db = sqlite::Connection::open(path, false);
  std::set<std::string> out;
  auto names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name NOT LIKE 'sqlite_%'");
  while (names.step()) out.insert(names.column_text(0));
  return out;
}

// Every index SQLite's schema names exists under that name in PostgreSQL's too (which
// adds its own for primary keys and UNIQUE): a query planned for one backend is indexed on
// the other.
TEST(LedgerSchemas, PostgresHasEveryNamedSqliteIndex) {
  const LedgerBackend sqlite_side(LedgerBackendKind::sqlite);
  const LedgerBackend postgres_side(LedgerBackendKind::postgresql);
  sqlite_side.open().reset();
  postgres_side.open().reset();
  const auto expected = sqlite_indexes(sqlite_side.path());
  ASSERT_TRUE(expected.count("radius_sessions_by_calling_station") && expected.count("events_by_cn"));
  for (const auto& name : expected)
    EXPECT_EQ(postgres_side.raw_int64("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname = '" +
                                      name + "'"),
              1)
        << name;
}

// Events of a ledger before version 12: two rejects and an accept of the last day, an
// accept of three days ago and an event of another kind.
std::string events_before_v12(std::int64_t now) {
  const auto at = [&](std::int64_t ago) { return std::to_string(now - ago); };
  return "INSERT INTO events (at, kind, outcome, reason, nas) VALUES (" + at(60) +
         ", 'radius', 'reject', 'revoked', 'wlc'), (" + at(60) + ", 'radius', 'reject', 'revoked', 'wlc'), (" +
         at(30) + ", 'radius', 'accept', 'ok', 'wlc'), (" + at(3 * 86400) + ", 'radius', 'accept', 'ok', 'wlc'), (" +
         at(0) + ", 'dynauth', 'sent', '', 'wlc')";
}

// What version 12's fill must make of events_before_v12.
void expect_counted_from_before_v12(Ledger& ledger, std::int64_t now) {
  const EventSummary s = ledger.summarize_events(static_cast<UnixTime>(now - 86400));
  std::int64_t accepted = 0, rejected = 0;
  for (const auto& m : s.radius_per_minute) {
    accepted += m.accepted;
    rejected += m.rejected;
  }
  EXPECT_EQ(accepted, 1);
  EXPECT_EQ(rejected, 2);
  ASSERT_EQ(s.rejects.size(), 1u);
  EXPECT_EQ(s.rejects[0].reason, "revoked");
  EXPECT_EQ(s.rejects[0].count, 2);
}

// Version 12 fills the counts from the last two days of events already there, so the
// overview of an upgraded ledger is not empty for a day.
TEST(LedgerSchemas, Version12CountsTheRecentEventsAlreadyThere) {
  const LedgerBackend sqlite_side(LedgerBackendKind::sqlite);
  const auto now = static_cast<std::int64_t>(now_unix());
  {
    auto db = sqlite::Connection::open(sqlite_side.path(), true);
    sqlite::migrate(db, 11);
    db.exec(events_before_v12(now).c_str());
  }
  expect_counted_from_before_v12(*open_sqlite_ledger(sqlite_side.path()), now);
}

// The same on PostgreSQL, whose migrations run to the latest only: a ledger made at 12 is
// taken back to 11's shape by hand.
TEST(LedgerSchemas, Version12CountsTheRecentEventsAlreadyThereOnPostgresql) {
  const LedgerBackend postgres_side(LedgerBackendKind::postgresql);
  postgres_side.open().reset();
  const auto now = static_cast<std::int64_t>(now_unix());
  postgres_side.raw_exec(
      "DROP TABLE event_counts; DROP TABLE reject_counts; DROP TABLE nodes; "
      "CREATE INDEX events_overview ON events(kind, at, outcome, reason, nas); "
      "UPDATE meta SET value = 11 WHERE key = 'schema_version'; " + events_before_v12(now));
  expect_counted_from_before_v12(*postgres_side.open(), now);
  EXPECT_EQ(postgres_side.raw_int64("SELECT value FROM meta WHERE key = 'schema_version'"), 12);
  EXPECT_EQ(postgres_side.raw_int64("SELECT count(*) FROM pg_indexes WHERE indexname = 'events_overview'"), 0);
}

}  // namespace
}  // namespace portcullis::ca
