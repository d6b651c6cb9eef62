// radius::Server with an access policy: a rule's reply attributes (the VLAN
// shorthand, a plain attribute, Session-Timeout) in the Access-Accept, a reject rule's
// Access-Reject with EAP-Failure and its audit row, and the NAS table (clients, secrets,
// groups) swapped under a running server, together with the rules on SIGHUP.
#include "policy/engine.hpp"
#include "radius/reply_resolver.hpp"
#include "server_fixture.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

namespace portcullis::radius::testing {
namespace {

class ServerPolicyTest : public ServerFixture {
 protected:
  void use_policy(const std::string& toml) {
    engine_.load_text(toml, "policy.toml");
    ServerOptions options;
    options.policy = &engine_;
    make_server(options);
  }

  eap::testing::Client device_in(const std::string& name, std::vector<std::string> groups) {
    registry_->create_device(ca::NewDevice{name, "", "", std::move(groups)}, "test");
    return issue(name);
  }

  Outcome authenticate(const eap::testing::Client& client) {
    eap::testing::EapTlsPeer peer(peer_options(&client));
    return run_conversation(peer);
  }

  static std::vector<Bytes> values_of(const Packet& p, std::uint8_t type) {
    std::vector<Bytes> out;
    for (const auto& a : p.attributes)
      if (a.type == type) out.push_back(a.value);
    return out;
  }

  policy::Engine engine_{dictionary_resolver(Dictionary::load())};
};

TEST_F(ServerPolicyTest, MatchingRulesReplyAttributesAreInTheAccept) {
  use_policy(R"([[rule]]
name = "staff-wifi"
device_groups = ["staff"]
vlan = 20
session_timeout = 600
reply = { "Filter-Id" = "staff" }
)");
  const auto staff = device_in("staff-laptop", {"staff"});
  Outcome o = authenticate(staff);
  ASSERT_EQ(o.final.code, Code::AccessAccept);
  EXPECT_EQ(join_eap_message(o.final).eap.at(0), 3);  // EAP-Success
  // RFC 3580 §3.31 with tag 1 (RFC 2868): the tag is the first octet of each.
  EXPECT_EQ(values_of(o.final, attr::TunnelType), (std::vector<Bytes>{{0x01, 0x00, 0x00, 0x0D}}));
  EXPECT_EQ(values_of(o.final, attr::TunnelMediumType), (std::vector<Bytes>{{0x01, 0x00, 0x00, 0x06}}));
  EXPECT_EQ(values_of(o.final, attr::TunnelPrivateGroupId), (std::vector<Bytes>{{0x01, '2', '0'}}));
  EXPECT_EQ(values_of(o.final, attr::FilterId), (std::vector<Bytes>{{'s', 't', 'a', 'f', 'f'}}));
  EXPECT_EQ(o.final.integer(attr::SessionTimeout), 600u);
  EXPECT_EQ(values_of(o.final, attr::SessionTimeout).size(), 1u);
  EXPECT_TRUE(o.final.find_vendor(vendor::Microsoft, ms::MppeRecvKey));  // the keys are still there

  // A device outside the group: no rule matches, accepted without extra attributes.
  const auto other = device_in("kiosk", {"kiosks"});
  Outcome d = authenticate(other);
  ASSERT_EQ(d.final.code, Code::AccessAccept);
  EXPECT_EQ(d.final.find(attr::TunnelPrivateGroupId), nullptr);
  EXPECT_EQ(d.final.find(attr::FilterId), nullptr);
  EXPECT_EQ(engine_.stats().at(0).matches, 1u);
  EXPECT_EQ(engine_.default_matches(), 1u);
}

TEST_F(ServerPolicyTest, RejectRuleGivesAccessRejectWithEapFailureAndAnAuditRow) {
  use_policy(R"([[rule]]
name = "lost-devices"
device_groups = ["lost"]
action = "reject"
reason = "reported lost"
)");
  const auto lost = device_in("lost-phone", {"lost"});
  Outcome o = authenticate(lost);
  ASSERT_EQ(o.final.code, Code::AccessReject);
  const Bytes eap = join_eap_message(o.final).eap;
  ASSERT_EQ(eap.size(), 4u);
  EXPECT_EQ(eap[0], 4);  // EAP-Failure (RFC 3579 §2.6.3)
  EXPECT_EQ(o.final.find(attr::Class), nullptr);
  EXPECT_FALSE(o.final.find_vendor(vendor::Microsoft, ms::MppeRecvKey));  // no keys for a rejected device
  EXPECT_EQ(counter("policy_reject"), 1u);
  EXPECT_EQ(counter("access_accept"), 0u);
  const auto audit = ledger_->audit({lost.serial_hex, std::string("radius.reject"), 10});
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_NE(audit[0].detail.find("policy: reported lost"), std::string::npos) << audit[0].detail;
  EXPECT_NE(audit[0].detail.find("rule=lost-devices"), std::string::npos) << audit[0].detail;
}

// The metrics' hook: every accept and reject reaches the DecisionObserver with its NAS,
// a reason code and, for a conversation that ran, the time since its first request.
struct RecordedDecisions : DecisionObserver {
  struct Seen {
    std::string nas, outcome, reason;
    std::optional<std::chrono::nanoseconds> handshake;
  };
  void decided(const DecisionSeen& d) noexcept override {
    seen.push_back({std::string(d.nas), to_string(d.outcome), std::string(d.reason), d.handshake});
  }
  std::vector<Seen> seen;
};

TEST_F(ServerPolicyTest, EveryDecisionReachesTheObserverWithItsReasonCode) {
  engine_.load_text(R"([[rule]]
name = "lost-devices"
device_groups = ["lost"]
action = "reject"
)", "policy.toml");
  RecordedDecisions decisions;
  ServerOptions options;
  options.policy = &engine_;
  options.decisions = &decisions;
  make_server(options);

  ASSERT_EQ(authenticate(device_in("good-laptop", {})).final.code, Code::AccessAccept);
  ASSERT_EQ(authenticate(device_in("lost-phone", {"lost"})).final.code, Code::AccessReject);
  // No EAP conversation at all: a reject without a handshake time.
  Packet plain = access_request({});
  plain.attributes.clear();
  plain.add(attr::UserName, "someone");
  ASSERT_TRUE(send_raw(encode(plain)));

  ASSERT_EQ(decisions.seen.size(), 3u);
  EXPECT_EQ(decisions.seen[0].nas, "wlc");
  EXPECT_EQ(decisions.seen[0].outcome, "accept");
  EXPECT_EQ(decisions.seen[0].reason, "ok");
  ASSERT_TRUE(decisions.seen[0].handshake);
  EXPECT_GT(decisions.seen[0].handshake->count(), 0);
  EXPECT_EQ(decisions.seen[1].outcome, "reject");
  EXPECT_EQ(decisions.seen[1].reason, "policy:lost-devices");
  EXPECT_TRUE(decisions.seen[1].handshake);
  EXPECT_EQ(decisions.seen[2].outcome, "reject");
  EXPECT_EQ(decisions.seen[2].reason, "eap_method");   // PAP/CHAP: the events vocabulary (docs/events.md)
  EXPECT_FALSE(decisions.seen[2].handshake);
}

TEST_F(ServerPolicyTest, WithoutAPolicyEveryValidDeviceIsAcceptedPlain) {
  const auto client = device_in("plain", {"staff"});
  Outcome o = authenticate(client);
  ASSERT_EQ(o.final.code, Code::AccessAccept);
  EXPECT_EQ(o.final.find(attr::TunnelType), nullptr);
}

TEST_F(ServerPolicyTest, NasTableIsSwappedWithItsGroups) {
  engine_.load_text("[[rule]]\nname = \"campus\"\nnas_group = [\"campus\"]\nvlan = 40\n", "policy.toml");
  ServerOptions options;
  options.policy = &engine_;
  auto first = std::make_shared<NasTable>();
  NasClient wlc;
  wlc.name = "wlc";
  wlc.secret = kSecret;
  first->add(wlc, "127.0.0.0/8");
  server_ = std::make_unique<Server>(std::shared_ptr<const NasTable>(first), tls_, *ledger_, options);
  const auto client = device_in("roamer", {});
  EXPECT_EQ(authenticate(client).final.find(attr::TunnelPrivateGroupId), nullptr);

  // Same NAS, now in the "campus" group: the next authentication gets the VLAN.
  auto second = std::make_shared<NasTable>();
  wlc.groups = {"campus"};
  second->add(wlc, "127.0.0.0/8");
  server_->replace_nas_table(second);
  EXPECT_EQ(server_->nas_table().get(), second.get());
  Outcome o = authenticate(client);
  ASSERT_EQ(o.final.code, Code::AccessAccept);
  EXPECT_EQ(values_of(o.final, attr::TunnelPrivateGroupId), (std::vector<Bytes>{{0x01, '4', '0'}}));

  // A table without that NAS: its requests are dropped as from an unknown client.
  auto third = std::make_shared<NasTable>();
  NasClient elsewhere;
  elsewhere.name = "elsewhere";
  elsewhere.secret = kSecret;
  third->add(elsewhere, "192.0.2.0/24");
  server_->replace_nas_table(third);
  EXPECT_FALSE(send_raw(encode(access_request(peer_identity()))));
  EXPECT_EQ(counter("unknown_nas"), 1u);
}

// SIGHUP swaps the NAS table and the rules with reconfigure(): a request being decided
// when the reload comes is decided by the old table and rules, whole; the next by the new.
// The reload arrives from another thread during the decision (the Decider below) and must
// wait for it: without that, the new NAS groups would meet the old rules, which match
// nothing here.
struct ReloadDuringDecision : policy::Decider {
  policy::Decision decide(const policy::AccessContext& context) const override {
    if (reload && !started.exchange(true)) {
      reloader = std::thread(reload);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // time enough to run if not held back
      reloaded_during_decision = swapped->load();
    }
    return engine->decide(context);
  }
  const policy::Engine* engine = nullptr;
  const std::atomic<bool>* swapped = nullptr;
  std::function<void()> reload;
  mutable bool reloaded_during_decision = false;
  mutable std::atomic<bool> started{false};
  mutable std::thread reloader;
};

TEST_F(ServerPolicyTest, AReloadWaitsForTheDecisionInFlightAndSwapsTableAndRulesTogether) {
  const std::string campus = "[[rule]]\nname = \"campus\"\nnas_group = [\"campus\"]\nvlan = 20\n";
  const std::string branch = "[[rule]]\nname = \"branch\"\nnas_group = [\"branch\"]\nvlan = 30\n";
  engine_.load_text(campus, "a.toml");
  auto table = [](std::string group) {
    auto t = std::make_shared<NasTable>();
    NasClient wlc;
    wlc.name = "wlc";
    wlc.secret = kSecret;
    wlc.groups = {std::move(group)};
    t->add(wlc, "127.0.0.0/8");
    return std::shared_ptr<const NasTable>(t);
  };
  const std::string b_file = ::testing::TempDir() + "portcullis-branch-" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream(b_file) << branch;
  }
  auto rules_b = engine_.prepare_file(b_file);
  std::remove(b_file.c_str());
  ReloadDuringDecision decider;
  std::atomic<bool> swapped{false};
  decider.engine = &engine_;
  decider.swapped = &swapped;
  ServerOptions options;
  options.policy = &decider;
  server_ = std::make_unique<Server>(table("campus"), tls_, *ledger_, options);
  decider.reload = [&] {
    server_->reconfigure(table("branch"), [&] {
      engine_.install(rules_b);
      swapped = true;
    });
  };
  const auto client = device_in("roamer", {});

  Outcome first = authenticate(client);
  decider.reloader.join();
  EXPECT_FALSE(decider.reloaded_during_decision);
  ASSERT_EQ(first.final.code, Code::AccessAccept);
  EXPECT_EQ(values_of(first.final, attr::TunnelPrivateGroupId), (std::vector<Bytes>{{0x01, '2', '0'}}));
  EXPECT_TRUE(swapped);
  Outcome second = authenticate(client);
  EXPECT_EQ(values_of(second.final, attr::TunnelPrivateGroupId), (std::vector<Bytes>{{0x01, '3', '0'}}));
}

// The same through the RadSec entry (handle(datagram, nas)): the NAS comes from the
// connection, not the table, but a reload during the decision must still wait for it, so
// the request is decided by the rules it started with, whole.
TEST_F(ServerPolicyTest, AReloadWaitsForTheDecisionInFlightOfARadsecRequest) {
  const std::string campus = "[[rule]]\nname = \"campus\"\nnas_group = [\"campus\"]\nvlan = 20\n";
  const std::string branch = "[[rule]]\nname = \"branch\"\nnas_group = [\"branch\"]\nvlan = 30\n";
  engine_.load_text(campus, "a.toml");
  const std::string b_file = ::testing::TempDir() + "portcullis-radsec-branch-" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream(b_file) << branch;
  }
  auto rules_b = engine_.prepare_file(b_file);
  std::remove(b_file.c_str());
  NasClient radsec_wlc;
  radsec_wlc.name = "radsec-wlc";
  radsec_wlc.secret = kSecret;
  radsec_wlc.groups = {"campus"};
  radsec_nas_ = &radsec_wlc;
  ReloadDuringDecision decider;
  std::atomic<bool> swapped{false};
  decider.engine = &engine_;
  decider.swapped = &swapped;
  ServerOptions options;
  options.policy = &decider;
  // An empty table: the RadSec NAS is in none, as a RadSec client is not found by address.
  server_ = std::make_unique<Server>(std::make_shared<const NasTable>(), tls_, *ledger_, options);
  decider.reload = [&] {
    server_->reconfigure(std::make_shared<const NasTable>(), [&] {
      engine_.install(rules_b);
      swapped = true;
    });
  };
  const auto client = device_in("roamer", {});

  Outcome first = authenticate(client);
  decider.reloader.join();
  EXPECT_FALSE(decider.reloaded_during_decision);
  ASSERT_EQ(first.final.code, Code::AccessAccept);
  EXPECT_EQ(values_of(first.final, attr::TunnelPrivateGroupId), (std::vector<Bytes>{{0x01, '2', '0'}}));
  EXPECT_TRUE(swapped);
  EXPECT_EQ(counter("unknown_nas"), 0u);
}

}  // namespace
}  // namespace portcullis::radius::testing
