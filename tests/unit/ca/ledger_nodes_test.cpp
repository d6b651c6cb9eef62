// The nodes' heartbeat rows (ca/ledger/nodes.hpp) on both backends, and when a node counts
// as silent.
#include "ca/ledger/ledger.hpp"
#include "ledger_backend.hpp"
#include "ledger_fixtures.hpp"

#include <gtest/gtest.h>

namespace portcullis::ca {
namespace {

using testing::audit_where;
using testing::backend_name;
using testing::LedgerBackend;
using testing::LedgerBackendKind;

NodeBeat beat(const std::string& name, const std::string& instance, const std::string& status = "ok") {
  NodeBeat b;
  b.name = name;
  b.instance = instance;
  b.version = "1.2.3";
  b.status = status;
  b.reason = status == "degraded" ? "the ledger is unreachable" : "";
  b.started_at = 1000;
  b.interval_seconds = 10;
  return b;
}

class LedgerNodesTest : public ::testing::TestWithParam<LedgerBackendKind> {
 protected:
  LedgerBackend backend{GetParam()};
  std::unique_ptr<Ledger> ledger = backend.open();

  // Moves a node's last beat into the past, as a node that stopped beating leaves it.
  void age(const std::string& name, std::int64_t seconds) {
    backend.raw_exec("UPDATE nodes SET seen_at = seen_at - " + std::to_string(seconds) + " WHERE name = '" + name + "'");
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, LedgerNodesTest,
                         ::testing::Values(LedgerBackendKind::sqlite, LedgerBackendKind::postgresql), backend_name);

TEST_P(LedgerNodesTest, ABeatReplacesTheNodesRowAndReturnsTheOneBefore) {
  EXPECT_FALSE(ledger->record_node(beat("a", "i1")));
  const std::optional<NodeRow> before = ledger->record_node(beat("a", "i1", "degraded"));
  ASSERT_TRUE(before);
  EXPECT_EQ(before->instance, "i1");
  EXPECT_EQ(before->status, "ok");
  ledger->record_node(beat("b", "i2"));

  const NodeList list = ledger->nodes();
  ASSERT_EQ(list.nodes.size(), 2u);
  EXPECT_EQ(list.nodes[0].name, "a");
  EXPECT_EQ(list.nodes[0].status, "degraded");
  EXPECT_EQ(list.nodes[0].reason, "the ledger is unreachable");
  EXPECT_EQ(list.nodes[0].version, "1.2.3");
  EXPECT_EQ(list.nodes[0].started_at, 1000);
  EXPECT_EQ(list.nodes[1].name, "b");
  // Seen by the ledger's clock, which for these backends is this machine's.
  EXPECT_LE(std::abs(list.now - now_unix()), 2);
  EXPECT_LE(std::abs(list.nodes[1].seen_at - list.now), 2);
  EXPECT_EQ(node_state(list.nodes[1], list.now), "ok");
}

TEST_P(LedgerNodesTest, ANodeThatMissedThreeBeatsIsSilentAndCanBeForgotten) {
  ledger->record_node(beat("a", "i1"));
  ledger->record_node(beat("b", "i2"));
  EXPECT_EQ(ledger->forget_node("a", "api:ops"), ForgetOutcome::running);
  EXPECT_EQ(ledger->forget_node("nobody", "api:ops"), ForgetOutcome::unknown);

  age("a", 25);   // two and a half beats: still up
  NodeList list = ledger->nodes();
  EXPECT_EQ(node_state(list.nodes[0], list.now), "ok");
  EXPECT_EQ(ledger->forget_node("a", "api:ops"), ForgetOutcome::running);

  age("a", 10);   // three and a half
  list = ledger->nodes();
  EXPECT_EQ(node_state(list.nodes[0], list.now), "silent");
  EXPECT_EQ(ledger->forget_node("a", "api:ops"), ForgetOutcome::forgotten);
  list = ledger->nodes();
  ASSERT_EQ(list.nodes.size(), 1u);
  EXPECT_EQ(list.nodes[0].name, "b");
  const auto audit = ledger->audit(audit_where(std::nullopt, "node.forget"));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "api:ops");
  EXPECT_EQ(audit[0].target, "a");
  EXPECT_EQ(audit[0].detail, "was silent");
}

TEST_P(LedgerNodesTest, AStoppedNodeIsStoppedAtOnceNotSilentLater) {
  ledger->record_node(beat("a", "i1", "stopped"));
  age("a", 3600);
  const NodeList list = ledger->nodes();
  EXPECT_EQ(node_state(list.nodes[0], list.now), "stopped");
  EXPECT_EQ(ledger->forget_node("a", "cli"), ForgetOutcome::forgotten);
}

TEST(NodeState, SilenceIsMeasuredInTheNodesOwnBeats) {
  NodeRow row;
  row.status = "degraded";
  row.interval_seconds = 1;
  row.seen_at = 100;
  EXPECT_EQ(node_state(row, 103), "degraded");
  EXPECT_EQ(node_state(row, 104), "silent");
  row.interval_seconds = 60;
  EXPECT_EQ(node_state(row, 279), "degraded");
  EXPECT_EQ(node_state(row, 281), "silent");
  row.interval_seconds = 0;   // a bad row is judged as beating every second, not never silent
  EXPECT_EQ(node_state(row, 104), "silent");
}

}  // namespace
}  // namespace portcullis::ca
