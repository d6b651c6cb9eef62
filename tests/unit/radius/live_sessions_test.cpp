// What a Disconnect-Request needs, kept per certificate serial: the live table indexed by
// serial, Accepts not yet claimed by accounting, Class tokens that name their certificate
// after a restart, and the ledger round trip (schema v5) that reloads the live table.
#include "ca/ledger/ledger.hpp"
#include "radius/accounting.hpp"
#include "radius/sessions.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <unistd.h>

namespace portcullis::radius {
namespace {

LiveSession session(const std::string& nas, const std::string& id, const std::string& serial, const char* source) {
  LiveSession s;
  s.nas = nas;
  s.acct_session_id = id;
  s.serial = serial;
  s.nas_identity.source = IpAddress::parse(source);
  return s;
}

TEST(LiveSessions, IndexedBySerialAndMerged) {
  AccountingSessions live;
  live.upsert(session("wlc", "a", "01AB", "192.0.2.1"));
  live.upsert(session("wlc", "b", "01AB", "192.0.2.1"));
  live.upsert(session("wlc", "c", "02CD", "192.0.2.2"));
  EXPECT_EQ(live.by_serial("01AB").size(), 2u);
  // An Interim-Update without the serial keeps it; one with a calling station adds it.
  LiveSession interim = session("wlc", "a", "", "192.0.2.1");
  interim.calling_station_id = "02-00-00-00-00-01";
  live.upsert(interim);
  auto a = live.by_serial("01AB");
  ASSERT_EQ(a.size(), 2u);
  live.mark("wlc", "a", "timeout");
  for (const auto& s : live.by_serial("01AB"))
    if (s.acct_session_id == "a") {
      EXPECT_EQ(s.calling_station_id, "02-00-00-00-00-01");
      EXPECT_EQ(s.dynauth, "timeout");
    }
  live.stop("wlc", "b");
  EXPECT_EQ(live.by_serial("01AB").size(), 1u);
  EXPECT_EQ(live.size(), 2u);
}

TEST(LiveSessions, AccountingOnClosesOnlyThatNasAddress) {
  AccountingSessions live;
  live.upsert(session("campus", "a", "01", "192.0.2.1"));
  live.upsert(session("campus", "b", "02", "192.0.2.2"));  // same client entry (a prefix), another NAS
  live.upsert(session("other", "c", "03", "192.0.2.1"));
  EXPECT_EQ(live.stop_nas("campus", IpAddress::parse("192.0.2.1")), 1u);
  EXPECT_TRUE(live.by_serial("01").empty());
  EXPECT_EQ(live.by_serial("02").size(), 1u);
  EXPECT_EQ(live.by_serial("03").size(), 1u);
}

// Sessions silent for longer than stale_intervals interim intervals expire: the NAS's
// Acct-Interim-Interval when it gave one, the default otherwise.
TEST(LiveSessions, SilentSessionsExpireAfterTheirIntervals) {
  AccountingSessions live(LiveSessionLimits{100, 3, 3600});
  LiveSession fast = session("wlc", "fast", "01", "192.0.2.1");
  fast.last_seen = 1000;
  fast.interim_interval = 600;
  LiveSession quiet = session("wlc", "quiet", "02", "192.0.2.1");
  quiet.last_seen = 1000;
  EXPECT_TRUE(live.upsert(fast).empty());
  EXPECT_TRUE(live.upsert(quiet).empty());
  EXPECT_TRUE(live.expire(1000 + 3 * 600).empty());  // at the deadline: still live
  // An Interim-Update moves the deadline.
  LiveSession update = session("wlc", "fast", "", "192.0.2.1");
  update.last_seen = 2000;
  EXPECT_TRUE(live.upsert(update).empty());
  EXPECT_TRUE(live.expire(1000 + 3 * 600 + 1).empty());
  auto gone = live.expire(2000 + 3 * 600 + 1);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].acct_session_id, "fast");
  EXPECT_TRUE(live.by_serial("01").empty());
  gone = live.expire(1000 + 3 * 3600 + 1);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].acct_session_id, "quiet");
  EXPECT_EQ(live.size(), 0u);
}

// At the bound, a new session pushes out the one nearest its deadline.
TEST(LiveSessions, BoundedNumberOfLiveSessions) {
  AccountingSessions live(LiveSessionLimits{2, 3, 3600});
  for (int i = 0; i < 5; ++i) {
    LiveSession s = session("wlc", "s" + std::to_string(i), "0" + std::to_string(i), "192.0.2.1");
    s.last_seen = 1000 + i;
    auto gone = live.upsert(s);
    ASSERT_EQ(gone.size(), i < 2 ? 0u : 1u);
    if (i >= 2) {
      EXPECT_EQ(gone[0].acct_session_id, "s" + std::to_string(i - 2));
    }
  }
  EXPECT_EQ(live.size(), 2u);
  // An update of a known session takes no room.
  LiveSession again = session("wlc", "s4", "", "192.0.2.1");
  again.last_seen = 2000;
  EXPECT_TRUE(live.upsert(again).empty());
  EXPECT_EQ(live.size(), 2u);
}

// RFC 2869 §5.16 sets no maximum interval: a NAS announcing 0xFFFFFFFF s would keep its
// sessions for ever. Deadlines count with at most kMaxInterimInterval.
TEST(LiveSessions, HugeInterimIntervalCountsAsADay) {
  AccountingSessions live(LiveSessionLimits{100, 3, 3600});
  LiveSession s = session("rogue", "s", "01", "192.0.2.9");
  s.last_seen = 1000;
  s.interim_interval = 0xFFFFFFFFu;
  EXPECT_TRUE(live.upsert(s).empty());
  EXPECT_TRUE(live.expire(1000 + 3 * 86400).empty());
  auto gone = live.expire(1000 + 3 * 86400 + 1);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].acct_session_id, "s");
}

// A NAS announcing huge intervals (its sessions never the nearest to their deadline)
// cannot push another NAS's sessions out at the bound: at its fair share it pays for its
// own new sessions, and the other NAS, below its share, takes room back from it.
TEST(LiveSessions, OneNasCannotPushOutAnothersSessions) {
  AccountingSessions live(LiveSessionLimits{4, 3, 3600});
  for (int i = 0; i < 2; ++i) {
    LiveSession s = session("campus", "c" + std::to_string(i), "0" + std::to_string(i), "192.0.2.1");
    s.last_seen = 1000;
    s.interim_interval = 600;
    ASSERT_TRUE(live.upsert(s).empty());
  }
  for (int i = 0; i < 20; ++i) {
    LiveSession s = session("rogue", "r" + std::to_string(i), "1" + std::to_string(i), "192.0.2.9");
    s.last_seen = 1000 + i;
    s.interim_interval = 0xFFFFFFFFu;
    auto gone = live.upsert(s);
    for (const auto& g : gone) EXPECT_EQ(g.nas, "rogue") << g.acct_session_id;
  }
  EXPECT_EQ(live.size(), 4u);
  EXPECT_EQ(live.by_serial("00").size(), 1u);
  EXPECT_EQ(live.by_serial("01").size(), 1u);
  // Below its share, the other NAS's new session takes the place of one of the rogue's.
  live.stop("campus", "c1");
  LiveSession rogue = session("rogue", "r-extra", "30", "192.0.2.9");
  rogue.last_seen = 1100;
  rogue.interim_interval = 0xFFFFFFFFu;
  ASSERT_TRUE(live.upsert(rogue).empty());  // the free place
  LiveSession back = session("campus", "c2", "02", "192.0.2.1");
  back.last_seen = 1100;
  back.interim_interval = 600;
  auto gone = live.upsert(back);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].nas, "rogue");
  EXPECT_EQ(live.by_serial("00").size(), 1u);
  EXPECT_EQ(live.by_serial("02").size(), 1u);
}

TEST(AcceptRecordsTest, CallingStationLinksOnlyWithinTheSameNas) {
  AcceptRecords accepts;
  AcceptRecord r;
  r.serial = "01AB";
  r.nas = "wlc";
  r.calling_station_id = "02-00-00-00-00-01";
  r.user_name = "anonymous@example";
  accepts.remember(r);
  ASSERT_TRUE(accepts.by_calling_station("wlc", "02-00-00-00-00-01"));
  EXPECT_FALSE(accepts.by_calling_station("other-nas", "02-00-00-00-00-01"));
}

TEST(AcceptRecordsTest, TokenNamesTheCertificateEvenAfterARestart) {
  AcceptRecords accepts;
  AcceptRecord r;
  r.serial = "7F00AB";
  r.nas = "wlc";
  r.accepted_at = 100;
  r.ends_at = 200;
  const std::string token = accepts.remember(r);
  EXPECT_EQ(token.rfind("pc1:", 0), 0u);
  EXPECT_EQ(serial_of_token(token), "7F00AB");
  AcceptRecords after_restart;
  auto found = after_restart.by_token(token);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->serial, "7F00AB");
  EXPECT_FALSE(after_restart.by_token("pc1:nothing"));
  EXPECT_EQ(serial_of_token("pc1:" + std::string(32, 'a') + ":not-hex"), "");
}

TEST(AcceptRecordsTest, UnclaimedUntilAccountingOrTheSessionTimeout) {
  AcceptRecords accepts;
  AcceptRecord r;
  r.serial = "01";
  r.nas = "wlc";
  r.calling_station_id = "02-00-00-00-00-01";
  r.accepted_at = 100;
  r.ends_at = 200;
  accepts.remember(r);
  EXPECT_EQ(accepts.unclaimed_by_serial("01", 150).size(), 1u);
  EXPECT_TRUE(accepts.unclaimed_by_serial("01", 200).empty());  // Session-Timeout ran out
  accepts.claim(r);
  EXPECT_TRUE(accepts.unclaimed_by_serial("01", 150).empty());
  EXPECT_TRUE(accepts.unclaimed(150).empty());
}

class LedgerRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() / ("live-sessions-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(path_);
    ledger_ = ca::open_sqlite_ledger(path_.string());
  }
  void TearDown() override {
    ledger_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + suffix);
  }
  std::filesystem::path path_;
  std::unique_ptr<ca::Ledger> ledger_;
};

TEST_F(LedgerRoundTrip, ADamagedCoaReplyCostsTheSessionItsCoaNotTheReload) {
  for (const char* damaged : {"c:0", "c:zz", "c:0105", "c:01"}) {   // odd length, not hex, truncated attributes
    LiveSession s = session("wlc", std::string("sess-") + damaged, "01AB", "192.0.2.1");
    ca::RadiusSessionRow row;
    fill_row(row, s);
    row.started_at = row.updated_at = 10;
    row.coa_reply = damaged;
    ledger_->record_radius_session(row);
  }
  AccountingSessions live;
  EXPECT_EQ(reload_live_sessions(*ledger_, live), 4u);
  for (const LiveSession& back : live.by_serial("01AB")) {
    EXPECT_FALSE(back.coa_on_disable) << back.acct_session_id;
    EXPECT_TRUE(back.coa_reply.empty()) << back.acct_session_id;
  }
}

TEST_F(LedgerRoundTrip, LiveSessionsReloadWithWhatADisconnectNeeds) {
  LiveSession s = session("wlc", "sess-1", "01AB", "192.0.2.1");
  s.calling_station_id = "02-00-00-00-00-01";
  s.user_name = "anonymous@example";
  s.nas_identity.nas_ip_address = std::array<std::uint8_t, 4>{192, 0, 2, 1};
  s.nas_identity.nas_identifier = "wlc-1";
  s.rule = "quarantine";
  s.coa_on_disable = true;
  s.coa_reply = {Attribute{attr::FilterId, Bytes{'q'}}, Attribute{attr::TunnelPrivateGroupId, Bytes{1, '9'}}};
  ca::RadiusSessionRow row;
  fill_row(row, s);
  row.started_at = row.updated_at = 10;
  ledger_->record_radius_session(row);
  LiveSession other = session("wlc", "sess-2", "02CD", "192.0.2.1");
  ca::RadiusSessionRow row2;
  fill_row(row2, other);
  row2.started_at = row2.updated_at = 10;
  ledger_->record_radius_session(row2);

  AccountingSessions live;
  EXPECT_EQ(reload_live_sessions(*ledger_, live), 2u);
  auto back = live.by_serial("01AB");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].calling_station_id, s.calling_station_id);
  EXPECT_EQ(back[0].user_name, s.user_name);
  EXPECT_EQ(back[0].nas_identity.source, s.nas_identity.source);
  EXPECT_EQ(back[0].nas_identity.nas_ip_address, s.nas_identity.nas_ip_address);
  EXPECT_EQ(back[0].nas_identity.nas_identifier, "wlc-1");
  EXPECT_TRUE(back[0].coa_on_disable);
  EXPECT_EQ(back[0].coa_reply, s.coa_reply);
  EXPECT_FALSE(live.by_serial("02CD")[0].coa_on_disable);

  // Outcomes in one batch: an ACK ends the session, a timeout only marks it.
  ledger_->mark_radius_sessions({ca::RadiusSessionMark{"wlc", "sess-1", "Disconnect ACK", 20, true},
                                 ca::RadiusSessionMark{"wlc", "sess-2", "Disconnect timeout", 20, false},
                                 ca::RadiusSessionMark{"wlc", "unknown", "Disconnect ACK", 20, true}});
  auto rows = ledger_->list_radius_sessions(false, 10);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    if (r.acct_session_id == "sess-1") {
      EXPECT_EQ(r.dynauth, "Disconnect ACK");
      EXPECT_EQ(r.stopped_at, 20);
    } else {
      EXPECT_EQ(r.dynauth, "Disconnect timeout");
      EXPECT_FALSE(r.stopped_at);
    }
    EXPECT_EQ(r.dynauth_at, 20);
  }
  AccountingSessions reloaded;
  EXPECT_EQ(reload_live_sessions(*ledger_, reloaded), 1u);

  // Accounting-On from another address of the same client entry leaves this one alone.
  EXPECT_EQ(ledger_->stop_radius_sessions_of_nas("wlc", "192.0.2.9", 30), 0u);
  EXPECT_EQ(ledger_->stop_radius_sessions_of_nas("wlc", "192.0.2.1", 30), 1u);
  EXPECT_TRUE(ledger_->list_radius_sessions(true, 10).empty());
}

// Stopped rows go after the retention, and past the row bound the oldest stopped ones
// go; live rows stay whatever the bound.
TEST_F(LedgerRoundTrip, StoppedSessionsArePrunedLiveOnesKept) {
  for (int i = 0; i < 6; ++i) {
    ca::RadiusSessionRow row;
    row.nas = "wlc";
    row.acct_session_id = "s" + std::to_string(i);
    row.started_at = row.updated_at = 100 + i;
    if (i < 4) row.stopped_at = 100 + i;  // s0..s3 stopped, s4 and s5 live
    ledger_->record_radius_session(row);
  }
  EXPECT_EQ(ledger_->prune_radius_sessions(101, 100), 1u);  // s0 stopped before 101
  EXPECT_EQ(ledger_->prune_radius_sessions(0, 3), 2u);      // 5 rows, 3 allowed: s1, s2
  auto rows = ledger_->list_radius_sessions(false, 10);
  std::set<std::string> ids;
  for (const auto& r : rows) ids.insert(r.acct_session_id);
  EXPECT_EQ(ids, (std::set<std::string>{"s3", "s4", "s5"}));
  EXPECT_EQ(ledger_->prune_radius_sessions(0, 1), 1u);  // only s3 may go
  EXPECT_EQ(ledger_->list_radius_sessions(true, 10).size(), 2u);
}

}  // namespace
}  // namespace portcullis::radius
