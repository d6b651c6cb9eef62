// A node's view of whether it follows a shared ledger (app/ledger_health.hpp): in step,
// degraded while the ledger cannot be read, degraded when its last complete catch-up is
// older than the bound, and one log line per change of state however often it is asked.
#include "app/ledger_health.hpp"

#include "ca/identity_index.hpp"
#include "ca/ledger/change_feed.hpp"
#include "ca/ledger/ledger.hpp"
#include "tests/unit/support/captured_log.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

namespace portcullis::app {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using testing::CapturedLog;

// No changes ever; the listening connection fails while `down` is set.
class SilentFeed : public ca::ChangeFeed {
 public:
  std::atomic<bool> down{false};
  std::vector<ca::LedgerChange> changes_after(std::int64_t, std::size_t) override {
    if (down) throw ca::LedgerError("connection to the ledger lost");
    return {};
  }
  std::int64_t last_change() override { return 0; }
  bool wait_for_change(std::chrono::milliseconds) override {
    std::this_thread::sleep_for(5ms);
    if (down) throw ca::LedgerError("connection to the ledger lost");
    return false;
  }
};

template <class Done>
bool within(std::chrono::milliseconds limit, Done done) {
  const auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

class LedgerHealthTest : public ::testing::Test {
 protected:
  static std::filesystem::path fresh_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ledger-health-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return pattern;
  }
  std::filesystem::path dir = fresh_dir();
  std::unique_ptr<ca::Ledger> ledger = ca::open_sqlite_ledger((dir / "ledger.db").string());
  ca::IdentityIndex index;
  SilentFeed feed;
  ~LedgerHealthTest() override { std::filesystem::remove_all(dir); }

  ca::ChangeFollowerSettings settings() {
    ca::ChangeFollowerSettings s;
    s.wait = 10ms;
    s.max_backoff = 20ms;
    return s;
  }
};

TEST_F(LedgerHealthTest, AnUnsharedLedgerIsAlwaysInStep) {
  LedgerHealth health(nullptr);
  EXPECT_FALSE(health.shared());
  const LedgerFollowState s = health.state(Clock::now());
  EXPECT_FALSE(s.degraded);
  EXPECT_TRUE(s.connected);
}

TEST_F(LedgerHealthTest, BehindWhenTheLastCatchUpIsOlderThanTheBound) {
  ca::ChangeFollower follower(*ledger, feed, index, 0, settings());
  LedgerHealth health(&follower, 5s);
  ASSERT_TRUE(within(2s, [&] { return follower.caught_up_at().has_value(); }));
  const auto now = Clock::now();
  const LedgerFollowState fresh = health.state(now);
  EXPECT_FALSE(fresh.degraded) << fresh.reason;
  ASSERT_TRUE(fresh.catch_up_age_seconds);
  EXPECT_LT(*fresh.catch_up_age_seconds, 1.0);
  // Seen from 10 s later (a follower stuck in a round would look so): behind.
  const LedgerFollowState stale = health.state(now + 10s);
  EXPECT_TRUE(stale.degraded);
  EXPECT_TRUE(stale.connected);
  EXPECT_NE(stale.reason.find("behind the ledger"), std::string::npos) << stale.reason;
}

TEST_F(LedgerHealthTest, UnreachableIsLoggedOncePerChangeOfState) {
  CapturedLog log;
  ca::ChangeFollower follower(*ledger, feed, index, 0, settings());
  LedgerHealth health(&follower);
  ASSERT_TRUE(within(2s, [&] { return follower.caught_up_at().has_value(); }));
  health.observe(Clock::now());
  EXPECT_EQ(log.count("health:"), 0u) << "in step from the start: nothing to say";

  feed.down = true;
  ASSERT_TRUE(within(2s, [&] { return !follower.healthy(); }));
  for (int i = 0; i < 5; ++i) health.observe(Clock::now());
  const LedgerFollowState down = health.state(Clock::now());
  EXPECT_TRUE(down.degraded);
  EXPECT_FALSE(down.connected);
  EXPECT_NE(down.reason.find("unreachable"), std::string::npos) << down.reason;
  EXPECT_EQ(log.count("health: DEGRADED"), 1u);

  feed.down = false;
  ASSERT_TRUE(within(2s, [&] { return follower.healthy(); }));
  for (int i = 0; i < 5; ++i) health.observe(Clock::now());
  EXPECT_FALSE(health.state(Clock::now()).degraded);
  EXPECT_EQ(log.count("health: ok again"), 1u);
  EXPECT_EQ(log.count("health: DEGRADED"), 1u);
}

}  // namespace
}  // namespace portcullis::app
