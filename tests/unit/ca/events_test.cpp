// Decision events in the SQLite ledger (schema v8, v9): filters, newest-first order, paging,
// retention in chunks, the migrations from v7, and MAC normalisation.
#include "ca/event.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/ledger/schema.hpp"
#include "ca/ledger/sqlite_db.hpp"
#include "ca/ledger/sqlite_ledger.hpp"
#include "ledger_fixtures.hpp"

#include <gtest/gtest.h>

#include <atomic>

namespace portcullis::ca {
namespace {

using testing::TempDir;

Event radius_event(UnixTime at, std::string outcome, std::string reason, std::string device = "",
                   std::string mac = "", std::string nas = "wlc-1", std::string serial = "") {
  Event e;
  e.at = at;
  e.kind = event_kind::kRadius;
  e.outcome = std::move(outcome);
  e.reason = std::move(reason);
  e.device = std::move(device);
  e.mac = std::move(mac);
  e.nas = std::move(nas);
  e.serial = std::move(serial);
  return e;
}

std::vector<std::string> reasons(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.reason);
  return out;
}

class EventStoreTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::string path = dir.file("ledger.db");
  std::unique_ptr<Ledger> ledger = open_sqlite_ledger(path);
};

TEST_F(EventStoreTest, RoundTripsEveryField) {
  Event e = radius_event(1000, "reject", "tls_alert:unknown_ca", "laptop-7", "02:00:5e:10:00:01", "wlc-1", "6AD6");
  e.detail = "the client sent alert unknown_ca";
  e.nas_ip = "192.0.2.10";
  e.user_name = "anonymous";
  e.ssid = "corp";
  e.issuer = "CN=Other CA";
  e.tls_version = "TLSv1.3";
  e.rule = "staff";
  e.duration_ms = 42;
  e.cn = "laptop-7";
  e.transaction_id = "tx-1";
  e.count = 3;
  ledger->append_events({e});
  const auto got = ledger->events({});
  ASSERT_EQ(got.size(), 1u);
  const Event& g = got[0];
  EXPECT_GT(g.id, 0);
  EXPECT_EQ(g.at, 1000);
  EXPECT_EQ(g.kind, "radius");
  EXPECT_EQ(g.outcome, "reject");
  EXPECT_EQ(g.reason, "tls_alert:unknown_ca");
  EXPECT_EQ(g.detail, e.detail);
  EXPECT_EQ(g.nas, "wlc-1");
  EXPECT_EQ(g.nas_ip, "192.0.2.10");
  EXPECT_EQ(g.mac, "02:00:5e:10:00:01");
  EXPECT_EQ(g.user_name, "anonymous");
  EXPECT_EQ(g.ssid, "corp");
  EXPECT_EQ(g.serial, "6AD6");
  EXPECT_EQ(g.device, "laptop-7");
  EXPECT_EQ(g.issuer, "CN=Other CA");
  EXPECT_EQ(g.tls_version, "TLSv1.3");
  EXPECT_EQ(g.rule, "staff");
  EXPECT_EQ(g.duration_ms, 42);
  EXPECT_EQ(g.cn, "laptop-7");
  EXPECT_EQ(g.transaction_id, "tx-1");
  EXPECT_EQ(g.count, 3);
}

TEST_F(EventStoreTest, FiltersNewestFirstWithPaging) {
  ledger->append_events({radius_event(100, "reject", "revoked", "a", "02:00:00:00:00:01", "wlc-1", "AA"),
                         radius_event(200, "accept", "ok", "b", "02:00:00:00:00:02", "wlc-2", "BB"),
                         radius_event(300, "reject", "expired", "a", "02:00:00:00:00:01", "wlc-2", "AA"),
                         radius_event(300, "abandoned", "abandoned", "", "02:00:00:00:00:03", "wlc-1")});
  Event scep;
  scep.at = 250;
  scep.kind = event_kind::kScep;
  scep.outcome = "issued";
  scep.reason = "ok";
  scep.device = "a";
  ledger->append_events({scep});

  EXPECT_EQ(reasons(ledger->events({})), (std::vector<std::string>{"abandoned", "expired", "ok", "ok", "revoked"}));
  EventFilter f;
  f.device = "a";
  EXPECT_EQ(reasons(ledger->events(f)), (std::vector<std::string>{"expired", "ok", "revoked"}));
  f.kind = "radius";
  EXPECT_EQ(reasons(ledger->events(f)), (std::vector<std::string>{"expired", "revoked"}));
  EventFilter by_mac;
  by_mac.mac = "02:00:00:00:00:01";
  EXPECT_EQ(ledger->events(by_mac).size(), 2u);
  EventFilter by_nas;
  by_nas.nas = "wlc-1";
  EXPECT_EQ(reasons(ledger->events(by_nas)), (std::vector<std::string>{"abandoned", "revoked"}));
  EventFilter by_serial;
  by_serial.serial = "BB";
  EXPECT_EQ(reasons(ledger->events(by_serial)), (std::vector<std::string>{"ok"}));
  EventFilter by_outcome;
  by_outcome.outcome = "reject";
  by_outcome.since = 150;
  EXPECT_EQ(reasons(ledger->events(by_outcome)), (std::vector<std::string>{"expired"}));
  // Same second: the later insertion comes first.
  EventFilter page;
  page.limit = 2;
  EXPECT_EQ(reasons(ledger->events(page)), (std::vector<std::string>{"abandoned", "expired"}));
  page.offset = 2;
  EXPECT_EQ(reasons(ledger->events(page)), (std::vector<std::string>{"ok", "ok"}));
  page.offset = 4;
  EXPECT_EQ(reasons(ledger->events(page)), (std::vector<std::string>{"revoked"}));
  // An empty value never matches the rows where the column is empty.
  EventFilter empty_device;
  empty_device.device = "";
  EXPECT_TRUE(ledger->events(empty_device).empty());
}

// Rows go to the store many to a statement: a batch that is not a multiple of that, each
// row's own values in its own row, in order, empty and NULL columns included.
TEST_F(EventStoreTest, ALargeBatchKeepsEveryRowWhole) {
  std::vector<Event> batch;
  for (int i = 0; i < 37; ++i) {
    Event e = radius_event(1000 + i, i % 2 ? "accept" : "reject", "r" + std::to_string(i), "dev-" + std::to_string(i));
    e.detail = std::string(static_cast<std::size_t>(i), 'x');
    if (i % 3 == 0) e.duration_ms = i;
    e.count = i + 1;
    batch.push_back(std::move(e));
  }
  ledger->append_events(batch);
  EventFilter all;
  all.limit = 100;
  const auto got = ledger->events(all);
  ASSERT_EQ(got.size(), 37u);
  for (int i = 0; i < 37; ++i) {
    const Event& g = got[static_cast<std::size_t>(36 - i)];  // newest first
    EXPECT_EQ(g.at, 1000 + i);
    EXPECT_EQ(g.reason, "r" + std::to_string(i));
    EXPECT_EQ(g.device, "dev-" + std::to_string(i));
    EXPECT_EQ(g.outcome, i % 2 ? "accept" : "reject");
    EXPECT_EQ(g.detail.size(), static_cast<std::size_t>(i));
    EXPECT_EQ(g.duration_ms.has_value(), i % 3 == 0);
    EXPECT_EQ(g.count, i + 1);
  }
}

TEST_F(EventStoreTest, ABatchIsAllOrNothing) {
  Event bad = radius_event(2, "", "x");
  EXPECT_THROW(ledger->append_events({radius_event(1, "accept", "ok"), bad}), LedgerConflict);
  EXPECT_TRUE(ledger->events({}).empty());
}

TEST_F(EventStoreTest, PrunesByAgeThenByCount) {
  std::vector<Event> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(radius_event(100 + i, "accept", "ok" + std::to_string(i)));
  ledger->append_events(batch);
  EXPECT_EQ(ledger->prune_events(103, 1000), 3u);  // at 100, 101, 102
  EXPECT_EQ(ledger->events({}).size(), 7u);
  EXPECT_EQ(ledger->prune_events(0, 4), 3u);        // the oldest three of the seven
  EXPECT_EQ(reasons(ledger->events({})), (std::vector<std::string>{"ok9", "ok8", "ok7", "ok6"}));
  EXPECT_EQ(ledger->prune_events(0, 4), 0u);
  EXPECT_EQ(ledger->prune_events(0, 0), 4u);
  EXPECT_TRUE(ledger->events({}).empty());
}

TEST_F(EventStoreTest, FilteredQueriesUseTheirIndex) {
  auto db = sqlite::Connection::open(path, false);
  const auto plan = [&](const char* where) {
    auto stmt = db.prepare(std::string("EXPLAIN QUERY PLAN SELECT id FROM events WHERE ") + where +
                           " ORDER BY at DESC, id DESC LIMIT 10");
    std::string out;
    while (stmt.step()) out += stmt.column_text(3) + "\n";
    return out;
  };
  EXPECT_NE(plan("device = 'x' AND device <> ''").find("events_by_device"), std::string::npos);
  EXPECT_NE(plan("serial = 'x' AND serial <> ''").find("events_by_serial"), std::string::npos);
  EXPECT_NE(plan("mac = 'x' AND mac <> ''").find("events_by_mac"), std::string::npos);
  EXPECT_NE(plan("nas = 'x' AND nas <> ''").find("events_by_nas"), std::string::npos);
  EXPECT_NE(plan("at >= 5").find("events_by_time"), std::string::npos);
  EXPECT_EQ(plan("device = 'x' AND device <> ''").find("TEMP B-TREE"), std::string::npos);  // no sort step
  EXPECT_NE(plan("cn = 'x' AND cn <> ''").find("events_by_cn"), std::string::npos);
}

// The plan of the query SqliteLedger::events runs for `filter`.
std::string ledger_plan(sqlite::Connection& db, const EventFilter& filter) {
  auto stmt = db.prepare("EXPLAIN QUERY PLAN " + sqlite::event_query(filter).sql);
  std::string out;
  while (stmt.step()) out += stmt.column_text(3) + "\n";
  return out;
}

TEST_F(EventStoreTest, KindAndOutcomeUseTheirIndexOnlyWhenNothingNarrowerIsAsked) {
  auto db = sqlite::Connection::open(path, false);
  struct Case {
    EventFilter filter;
    const char* index;
  };
  const auto with = [](auto set) {
    EventFilter f;
    set(f);
    return f;
  };
  const Case cases[] = {
      // --kind scep --since 7d: the SCEP events only, not every event of the week.
      {with([](EventFilter& f) { f.kind = "scep"; f.since = 5; }), "events_by_kind"},
      {with([](EventFilter& f) { f.kind = "nas"; }), "events_by_kind"},
      {with([](EventFilter& f) { f.outcome = "abandoned"; f.since = 5; }), "events_by_outcome"},
      // kind radius is nearly every event: the outcome narrows.
      {with([](EventFilter& f) { f.kind = "radius"; f.outcome = "abandoned"; }), "events_by_outcome"},
      {with([](EventFilter& f) { f.kind = "dynauth"; f.outcome = "nak"; f.since = 5; }), "events_by_kind"},
      // A device, MAC or NAS is narrower than any kind or outcome.
      {with([](EventFilter& f) { f.device = "a"; f.kind = "radius"; f.outcome = "reject"; }), "events_by_device"},
      {with([](EventFilter& f) { f.nas = "wlc-1"; f.outcome = "reject"; f.since = 5; }), "events_by_nas"},
      {with([](EventFilter& f) { f.cn = "ipad-8"; f.kind = "scep"; }), "events_by_cn"},
  };
  for (const Case& c : cases) {
    const std::string plan = ledger_plan(db, c.filter);
    EXPECT_NE(plan.find(c.index), std::string::npos) << c.index << ":\n" << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
  }
  // And the answers are the same as through the index.
  ledger->append_events({radius_event(10, "reject", "revoked", "a"), radius_event(11, "accept", "ok", "a")});
  EventFilter f;
  f.device = "a";
  f.kind = "radius";
  f.outcome = "reject";
  EXPECT_EQ(reasons(ledger->events(f)), (std::vector<std::string>{"revoked"}));
}

TEST_F(EventStoreTest, FindsScepRequestsByTheirCn) {
  Event scep;
  scep.at = 10;
  scep.kind = event_kind::kScep;
  scep.outcome = "reject";
  scep.reason = "challenge_wrong";
  scep.cn = "ipad-8";
  ledger->append_events({scep, radius_event(11, "accept", "ok", "ipad-8")});
  EventFilter f;
  f.cn = "ipad-8";
  EXPECT_EQ(reasons(ledger->events(f)), (std::vector<std::string>{"challenge_wrong"}));
}

// Counts the ledger's write transactions.
struct CommitCounter : CommitObserver {
  std::atomic<int> commits{0};
  void committed(std::chrono::nanoseconds) noexcept override { ++commits; }
};

TEST(EventRetention, PrunesManyRowsInChunksEachItsOwnTransaction) {
  TempDir dir;
  sqlite::SqliteLedger ledger(dir.file("ledger.db"));
  constexpr std::size_t kChunk = sqlite::SqliteLedger::kPruneChunkRows;
  // 2.5 chunks too old, then 3 chunks recent of which max_rows keeps 1.
  const std::size_t old_rows = kChunk * 5 / 2;
  const std::size_t recent_rows = 3 * kChunk;
  std::vector<Event> batch;
  for (std::size_t i = 0; i < old_rows; ++i) batch.push_back(radius_event(100, "reject", "old"));
  for (std::size_t i = 0; i < recent_rows; ++i) batch.push_back(radius_event(1000, "accept", "r" + std::to_string(i)));
  ledger.append_events(batch);
  CommitCounter counter;
  ledger.observe_commits(&counter);

  EXPECT_EQ(ledger.prune_events(500, kChunk), old_rows + recent_rows - kChunk);
  // The overview's old counts in one; by age: two full chunks and the rest; by count: two
  // full chunks and an empty one.
  EXPECT_EQ(counter.commits.load(), 1 + 3 + 3);
  ledger.observe_commits(nullptr);
  EventFilter all;
  all.limit = recent_rows;
  const auto left = ledger.events(all);
  ASSERT_EQ(left.size(), kChunk);
  // The newest kChunk, in order.
  EXPECT_EQ(left.front().reason, "r" + std::to_string(recent_rows - 1));
  EXPECT_EQ(left.back().reason, "r" + std::to_string(recent_rows - kChunk));
  EXPECT_EQ(ledger.prune_events(500, kChunk), 0u);
}

TEST(EventSchema, Version8And9AddEventsToAVersion7Ledger) {
  TempDir dir;
  const std::string path = dir.file("v7.db");
  {
    auto db = sqlite::Connection::open(path, true);
    sqlite::migrate(db, 7);
    ASSERT_EQ(sqlite::schema_version(db), 7);
    db.exec("INSERT INTO devices (name, created_at) VALUES ('from-v7', 1)");
    EXPECT_THROW(db.exec("SELECT count(*) FROM events"), sqlite::SqliteError);
  }
  auto ledger = open_sqlite_ledger(path);
  EXPECT_TRUE(ledger->find_device_by_name("from-v7"));
  ledger->append_events({radius_event(1, "accept", "ok")});
  EXPECT_EQ(ledger->events({}).size(), 1u);
  auto db = sqlite::Connection::open(path, false);
  EXPECT_EQ(sqlite::schema_version(db), sqlite::latest_schema_version());
}

TEST(NormalizeMac, AcceptsTheUsualFormsOnly) {
  EXPECT_EQ(normalize_mac("02:00:5E:10:00:01"), "02:00:5e:10:00:01");
  EXPECT_EQ(normalize_mac("02-00-5e-10-00-01"), "02:00:5e:10:00:01");
  EXPECT_EQ(normalize_mac("0200.5e10.0001"), "02:00:5e:10:00:01");
  EXPECT_EQ(normalize_mac("02005E100001"), "02:00:5e:10:00:01");
  EXPECT_FALSE(normalize_mac(""));
  EXPECT_FALSE(normalize_mac("02:00:5e:10:00"));
  EXPECT_FALSE(normalize_mac("02:00:5e:10:00:01:02"));
  EXPECT_FALSE(normalize_mac("02:00:5e:10:00:0g"));
  EXPECT_FALSE(normalize_mac("02 00 5e 10 00 01"));
}

}  // namespace
}  // namespace portcullis::ca
