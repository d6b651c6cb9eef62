// GET /api/v1/nodes, POST /nodes/{name}/forget, and the nodes in GET /overview
// (app/admin/api_nodes.cpp), over a real SQLite ledger.
#include "tests/unit/app/admin/api_fixture.hpp"
#include "ca/ledger/sqlite_db.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace {

ca::NodeBeat beat(const std::string& name, const std::string& status = "ok", const std::string& reason = "") {
  ca::NodeBeat b;
  b.name = name;
  b.instance = "instance-of-" + name;
  b.version = "0.1.0";
  b.status = status;
  b.reason = reason;
  b.started_at = ca::now_unix() - 7200;
  b.interval_seconds = 10;
  return b;
}

class NodesApiTest : public AdminApiTest {
 protected:
  void SetUp() override {
    AdminApiTest::SetUp();
    api_->set_node(app::NodeInfo{"radius-a", "sqlite", now() - 60, [this] { return health_; }});
  }
  // Moves a node's last beat `seconds` into the past.
  void age(const std::string& name, int seconds) {
    auto db = portcullis::ca::sqlite::Connection::open(dir_ + "/ledger.db", false);
    db.exec(("UPDATE nodes SET seen_at = seen_at - " + std::to_string(seconds) + " WHERE name = '" + name + "'").c_str());
  }
  json by_name(const json& nodes, const std::string& name) {
    for (const auto& n : nodes)
      if (n["name"] == name) return n;
    ADD_FAILURE() << name << " not in " << nodes.dump();
    return json();
  }
  portcullis::ca::NodeHealth health_;
};

TEST_F(NodesApiTest, ThisNodeIsListedBeforeItsFirstBeatLands) {
  Reply r = call("GET", "/api/v1/nodes");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  ASSERT_EQ(r.body["nodes"].size(), 1u);
  EXPECT_EQ(r.body["nodes"][0]["name"], "radius-a");
  EXPECT_EQ(r.body["nodes"][0]["state"], "ok");
  EXPECT_EQ(r.body["nodes"][0]["this"], true);
}

TEST_F(NodesApiTest, EachNodeWithItsStateAndThisOneWithItsHealthNow) {
  ledger_->record_node(beat("radius-a"));   // its last beat said ok; now it is degraded
  ledger_->record_node(beat("radius-b", "degraded", "the ledger was unreachable for 7 s"));
  ledger_->record_node(beat("radius-c"));
  ledger_->record_node(beat("radius-d", "stopped"));
  age("radius-c", 31);
  health_ = {"degraded", "0 decision event(s) dropped"};

  Reply r = call("GET", "/api/v1/nodes");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  const json& nodes = r.body["nodes"];
  ASSERT_EQ(nodes.size(), 4u);
  EXPECT_EQ(by_name(nodes, "radius-a")["state"], "degraded");
  EXPECT_EQ(by_name(nodes, "radius-a")["reason"], "0 decision event(s) dropped");
  EXPECT_EQ(by_name(nodes, "radius-a")["this"], true);
  EXPECT_EQ(by_name(nodes, "radius-b")["state"], "degraded");
  EXPECT_EQ(by_name(nodes, "radius-b")["reason"], "the ledger was unreachable for 7 s");
  EXPECT_EQ(by_name(nodes, "radius-b")["this"], false);
  EXPECT_GE(by_name(nodes, "radius-b")["uptime_seconds"].get<std::int64_t>(), 7200);
  EXPECT_EQ(by_name(nodes, "radius-c")["state"], "silent");
  EXPECT_THAT(by_name(nodes, "radius-c")["reason"].get<std::string>(),
              ::testing::MatchesRegex("no heartbeat for 3[1-3] s: stopped without a clean shutdown, .*"));
  EXPECT_GE(by_name(nodes, "radius-c")["seen_seconds_ago"].get<std::int64_t>(), 31);
  EXPECT_TRUE(by_name(nodes, "radius-c")["uptime_seconds"].is_null());
  EXPECT_EQ(by_name(nodes, "radius-d")["state"], "stopped");

  Reply overview = call("GET", "/api/v1/overview");
  ASSERT_EQ(overview.status, 200) << overview.raw.body;
  // Names and states: the seconds may tick between the two calls.
  const auto states = [](const json& list) {
    std::map<std::string, std::string> out;
    for (const auto& n : list) out[n["name"]] = n["state"];
    return out;
  };
  EXPECT_EQ(states(overview.body["nodes"]), states(nodes));
  EXPECT_EQ(overview.body["node"]["status"], "degraded");
  EXPECT_EQ(overview.body["node"]["reason"], "0 decision event(s) dropped");
}

TEST_F(NodesApiTest, OnlyAStoppedOrSilentNodeIsForgottenAndThatIsAudited) {
  ledger_->record_node(beat("radius-b"));
  expect_refused("POST", "/api/v1/nodes/radius-b/forget", "", 409);
  expect_refused("POST", "/api/v1/nodes/radius-x/forget", "", 404);
  expect_refused("GET", "/api/v1/nodes?all=1", "", 400);
  age("radius-b", 31);
  Reply r = call("POST", "/api/v1/nodes/radius-b/forget");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.body["forgotten"], "radius-b");
  const auto audit = ledger_->audit({"radius-b", "node.forget", 10});
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "api:ops");
  EXPECT_EQ(call("GET", "/api/v1/nodes").body["nodes"].size(), 1u);
}

}  // namespace
