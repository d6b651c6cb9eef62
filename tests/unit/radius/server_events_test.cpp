// The RADIUS server's decision events: exactly one per EAP conversation (accept, reject
// or abandoned) with the reason from the vocabulary and the request's facts, and NAS-level
// drops aggregated per source and minute.
#include "server_fixture.hpp"
#include "tests/unit/support/recording_sink.hpp"

#include <mutex>

namespace portcullis::radius::testing {
namespace {

using portcullis::testing::RecordingSink;

class ServerEventsTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    options_.events = &sink_;
    options_.steady_clock = [this] { return clock_; };
    make_server(options_);
  }
  // The one event a whole conversation ended in.
  ca::Event only_event() {
    auto events = sink_.take();
    EXPECT_EQ(events.size(), 1u);
    return events.empty() ? ca::Event{} : events.front();
  }

  RecordingSink sink_;
  ServerOptions options_;
  SteadyClock::time_point clock_ = SteadyClock::now();
};

TEST_F(ServerEventsTest, AcceptCarriesTheRequestAndCertificateFacts) {
  called_station_ = "02-00-00-00-00-AA:corp-wifi";
  const eap::testing::Client c = issue("laptop-7");
  eap::testing::EapTlsPeer peer(peer_options(&c, TLS1_3_VERSION));
  ASSERT_EQ(run_conversation(peer).final.code, Code::AccessAccept);
  const ca::Event e = only_event();
  EXPECT_EQ(e.kind, "radius");
  EXPECT_EQ(e.outcome, "accept");
  EXPECT_EQ(e.reason, "ok");
  EXPECT_EQ(e.nas, "wlc");
  EXPECT_EQ(e.nas_ip, "127.0.0.1");
  EXPECT_EQ(e.mac, "02:00:00:00:00:01");
  EXPECT_EQ(e.ssid, "corp-wifi");
  EXPECT_EQ(e.user_name, "anonymous@example.net");
  EXPECT_EQ(e.serial, c.serial_hex);
  EXPECT_EQ(e.device, "laptop-7");
  EXPECT_EQ(e.tls_version, "TLSv1.3");
  EXPECT_EQ(e.rule, "default");
  EXPECT_TRUE(e.issuer.empty());
  ASSERT_TRUE(e.duration_ms);
  EXPECT_GT(e.at, 0);
}

TEST_F(ServerEventsTest, EachRejectEndsInOneEventWithItsReason) {
  const eap::testing::Client foreign = issue_foreign("stranger");
  eap::testing::EapTlsPeer p1(peer_options(&foreign));
  ASSERT_EQ(run_conversation(p1).final.code, Code::AccessReject);
  ca::Event e = only_event();
  EXPECT_EQ(e.outcome, "reject");
  EXPECT_EQ(e.reason, "unknown_issuer");
  EXPECT_EQ(e.issuer, ca::subject_string(foreign_ca_.get()));
  EXPECT_EQ(e.serial, foreign.serial_hex);
  EXPECT_TRUE(e.device.empty());

  const eap::testing::Client revoked = issue("to-revoke");
  registry_->revoke(revoked.serial_hex, ca::RevocationReason::key_compromise, now(), "test");
  eap::testing::EapTlsPeer p2(peer_options(&revoked));
  ASSERT_EQ(run_conversation(p2).final.code, Code::AccessReject);
  e = only_event();
  EXPECT_EQ(e.reason, "revoked");
  EXPECT_EQ(e.device, "to-revoke");
  EXPECT_TRUE(e.issuer.empty());

  const eap::testing::Client disabled = issue("to-disable");
  registry_->set_device_enabled(disabled.device_id, false, "test");
  eap::testing::EapTlsPeer p3(peer_options(&disabled));
  ASSERT_EQ(run_conversation(p3).final.code, Code::AccessReject);
  EXPECT_EQ(only_event().reason, "device_disabled");

  eap::testing::EapTlsPeer p4(peer_options(nullptr));
  ASSERT_EQ(run_conversation(p4).final.code, Code::AccessReject);
  EXPECT_EQ(only_event().reason, "no_client_certificate");

  const eap::testing::Client ours = issue("wrong-profile");
  auto options = peer_options(&ours);
  options.trust_root = foreign_ca_.get();
  eap::testing::EapTlsPeer p5(options);
  ASSERT_EQ(run_conversation(p5).final.code, Code::AccessReject);
  e = only_event();
  EXPECT_EQ(e.reason, "tls_alert:unknown_ca");
  EXPECT_NE(e.detail.find("the client sent"), std::string::npos) << e.detail;
}

TEST_F(ServerEventsTest, APeerThatGoesSilentEndsAsAbandonedOnceTheTimeoutSweeps) {
  auto reply = exchange(access_request(peer_identity()));
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->code, Code::AccessChallenge);
  EXPECT_TRUE(sink_.take().empty());  // still in progress
  clock_ += std::chrono::seconds(30);
  server_->sweep();
  EXPECT_TRUE(sink_.take().empty());  // not idle long enough
  clock_ += std::chrono::seconds(31);
  server_->sweep();
  const ca::Event e = only_event();
  EXPECT_EQ(e.outcome, "abandoned");
  EXPECT_EQ(e.reason, "peer_silent");
  EXPECT_EQ(e.mac, "02:00:00:00:00:01");
  EXPECT_EQ(e.nas, "wlc");
  EXPECT_NE(e.detail.find("TLS_START"), std::string::npos) << e.detail;
  EXPECT_EQ(server_->eap_conversations(), 0u);
}

TEST_F(ServerEventsTest, ConversationsOpenAtShutdownAreNotAbandoned) {
  ASSERT_TRUE(exchange(access_request(peer_identity())));
  server_.reset();
  EXPECT_TRUE(sink_.take().empty());
}

TEST_F(ServerEventsTest, TableFullIsARejectWithItsReason) {
  options_.max_eap_sessions_per_nas = 1;
  make_server(options_);
  ASSERT_EQ(exchange(access_request(peer_identity()))->code, Code::AccessChallenge);
  auto refused = exchange(access_request(peer_identity()));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, Code::AccessReject);
  const ca::Event e = only_event();
  EXPECT_EQ(e.outcome, "reject");
  EXPECT_EQ(e.reason, "session_table_full");
}

// A conversation idle past the eviction grace but not the timeout, dropped to make room for
// another at the NAS's cap: the table was full, the peer had not given up.
TEST_F(ServerEventsTest, AConversationEvictedForRoomEndsWithSessionTableFull) {
  options_.max_eap_sessions_per_nas = 1;
  make_server(options_);
  ASSERT_EQ(exchange(access_request(peer_identity()))->code, Code::AccessChallenge);
  clock_ += std::chrono::seconds(3);
  ASSERT_EQ(exchange(access_request(peer_identity()))->code, Code::AccessChallenge);  // takes its place
  const ca::Event e = only_event();
  EXPECT_EQ(e.outcome, "abandoned");
  EXPECT_EQ(e.reason, "session_table_full");
  EXPECT_NE(e.detail.find("max_eap_sessions_per_nas"), std::string::npos) << e.detail;
  EXPECT_EQ(e.nas, "wlc");
  EXPECT_EQ(e.mac, "02:00:00:00:00:01");
  EXPECT_EQ(server_->eap_conversations(), 1u);
  // The one that took its place still ends as silent when its own peer goes away.
  clock_ += std::chrono::seconds(61);
  server_->sweep();
  EXPECT_EQ(only_event().reason, "peer_silent");
}

TEST_F(ServerEventsTest, NotEapIsAnEapMethodReject) {
  Packet p;
  p.code = Code::AccessRequest;
  p.identifier = 7;
  p.authenticator = random_authenticator();
  p.add(attr::UserName, "pap-user");
  ASSERT_EQ(exchange(p)->code, Code::AccessReject);
  const ca::Event e = only_event();
  EXPECT_EQ(e.reason, "eap_method");
  EXPECT_EQ(e.user_name, "pap-user");
}

TEST_F(ServerEventsTest, NasDropsAreAggregatedPerSourceAndMinute) {
  const Bytes wire = encode(access_request(peer_identity()));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(send_raw(wire, SocketKind::auth, "198.51.100.9"));
  auto events = sink_.take();
  ASSERT_EQ(events.size(), 1u);  // the first at once
  EXPECT_EQ(events[0].kind, "nas");
  EXPECT_EQ(events[0].outcome, "drop");
  EXPECT_EQ(events[0].reason, "unknown_client");
  EXPECT_EQ(events[0].nas_ip, "198.51.100.9");
  EXPECT_EQ(events[0].count, 1);
  // A wrong secret from a known NAS is another reason: its own window.
  EXPECT_FALSE(send_raw(encode(access_request(peer_identity()), true, "wrong-secret")));
  events = sink_.take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason, "bad_message_authenticator");
  EXPECT_EQ(events[0].nas, "wlc");
  server_->sweep();
  EXPECT_TRUE(sink_.take().empty());  // the minute is not over
  clock_ += std::chrono::seconds(60);
  server_->sweep();
  events = sink_.take();
  ASSERT_EQ(events.size(), 1u);  // the other four, counted; the bad secret had no more
  EXPECT_EQ(events[0].reason, "unknown_client");
  EXPECT_EQ(events[0].count, 4);
}

}  // namespace
}  // namespace portcullis::radius::testing
