// This node's heartbeat row (app/node_heartbeat.hpp) on a real SQLite ledger: written at
// start and at each interval with the health of the moment, "stopped" on a clean stop, a
// ledger failure logged once and retried, and a second process under the same name named.
#include "app/node_heartbeat.hpp"

#include "ca/ledger/ledger.hpp"
#include "tests/unit/support/captured_log.hpp"
#include "tests/unit/support/forwarding_ledger.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

namespace portcullis::app {
namespace {

using namespace std::chrono_literals;
using testing::CapturedLog;

bool eventually(const std::function<bool()>& check, std::chrono::milliseconds limit = 5s) {
  for (const auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
    if (check()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return check();
}

// A ledger whose node writes fail while `down` is set.
class FlakyLedger : public testing::ForwardingLedger {
 public:
  using ForwardingLedger::ForwardingLedger;
  std::optional<ca::NodeRow> record_node(const ca::NodeBeat& b) override {
    if (down) throw ca::LedgerUnavailable("connection to the ledger lost");
    return ForwardingLedger::record_node(b);
  }
  std::atomic<bool> down{false};
};

class NodeHeartbeatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("heartbeat-" + std::to_string(::getpid()) + "-" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    real_ = ca::open_sqlite_ledger((dir_ / "ledger.db").string());
    ledger_ = std::make_unique<FlakyLedger>(*real_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ca::NodeBeat self(const std::string& name = "radius-a") {
    ca::NodeBeat b;
    b.name = name;
    b.version = "0.1.0";
    b.started_at = ca::now_unix();
    b.interval_seconds = 1;
    return b;
  }
  std::optional<ca::NodeRow> row(const std::string& name = "radius-a") {
    for (const auto& n : real_->nodes().nodes)
      if (n.name == name) return n;
    return std::nullopt;
  }
  ca::NodeHealth health() {
    std::lock_guard lock(mutex_);
    return health_;
  }
  void set_health(ca::NodeHealth h) {
    std::lock_guard lock(mutex_);
    health_ = std::move(h);
  }

  std::filesystem::path dir_;
  std::unique_ptr<ca::Ledger> real_;
  std::unique_ptr<FlakyLedger> ledger_;
  std::mutex mutex_;
  ca::NodeHealth health_;
};

TEST_F(NodeHeartbeatTest, BeatsAtStartWithEachIntervalsHealthAndSaysStoppedLast) {
  {
    NodeHeartbeat heartbeat(*ledger_, self(), [this] { return health(); });
    ASSERT_TRUE(eventually([&] { return row().has_value(); }, 1s)) << "no beat at start";
    EXPECT_EQ(row()->status, "ok");
    EXPECT_EQ(row()->instance, heartbeat.instance());
    EXPECT_EQ(heartbeat.instance().size(), 32u);
    set_health({"degraded", "the ledger is behind by 6 s"});
    ASSERT_TRUE(eventually([&] { return row()->status == "degraded"; }, 3s));
    EXPECT_EQ(row()->reason, "the ledger is behind by 6 s");
  }
  EXPECT_EQ(row()->status, "stopped");
  EXPECT_EQ(row()->reason, "");
}

TEST_F(NodeHeartbeatTest, ALedgerFailureIsLoggedOnceAndTheBeatResumes) {
  CapturedLog log;
  ledger_->down = true;
  {
    NodeHeartbeat heartbeat(*ledger_, self(), [this] { return health(); });
    std::this_thread::sleep_for(2500ms);   // three failed beats
    EXPECT_FALSE(row());
    ledger_->down = false;
    ASSERT_TRUE(eventually([&] { return row().has_value(); }, 3s));
  }
  EXPECT_EQ(log.count("heartbeat not written to the ledger"), 1u);
  EXPECT_EQ(log.count("its heartbeat reaches the ledger again"), 1u);
}

// A ledger that is down when the node stops: no last beat to wait for; the others see the
// node go silent.
TEST_F(NodeHeartbeatTest, AStopWithTheLedgerDownWritesNoLastBeat) {
  {
    NodeHeartbeat heartbeat(*ledger_, self(), [this] { return health(); });
    ASSERT_TRUE(eventually([&] { return row().has_value(); }, 1s));
    ledger_->down = true;
    std::this_thread::sleep_for(1200ms);   // a failed beat
  }
  EXPECT_EQ(row()->status, "ok");
}

TEST_F(NodeHeartbeatTest, TwoProcessesUnderOneNameAreNamedOnceEach) {
  CapturedLog log;
  {
    NodeHeartbeat first(*ledger_, self(), [this] { return health(); });
    ASSERT_TRUE(eventually([&] { return row().has_value(); }, 1s));
    NodeHeartbeat second(*ledger_, self(), [this] { return health(); });
    std::this_thread::sleep_for(2500ms);
  }
  // Each sees the other's beats in its row; each says so once, however many beats clash.
  EXPECT_EQ(log.count("another running process beats under this name too"), 2u);
}

TEST_F(NodeHeartbeatTest, ARestartReplacesItsEarlierRowSilently) {
  CapturedLog log;
  { NodeHeartbeat before(*ledger_, self(), [this] { return health(); }); }
  const std::string old_instance = row()->instance;
  {
    NodeHeartbeat after(*ledger_, self(), [this] { return health(); });
    ASSERT_TRUE(eventually([&] { return row()->instance != old_instance; }, 1s));
    std::this_thread::sleep_for(1200ms);
  }
  EXPECT_EQ(log.count("another running process"), 0u);
}

}  // namespace
}  // namespace portcullis::app
