// The registry observers' side of RFC 5176 (app/session_control.hpp) against a real CA,
// ledger, index and RADIUS server, and a NAS stand-in on loopback: a revocation
// disconnects every live session of the certificate and marks it, a disabled device gets a
// CoA-Request with the accepting rule's attributes when the rule says so (Disconnect
// otherwise), enabling sends nothing, and sessions of a certificate that expired are
// disconnected once by the expiry scan.
#include "../radius/nas_stand_in.hpp"
#include "../radius/server_fixture.hpp"
#include "app/session_control.hpp"
#include "radius/accounting.hpp"
#include "tests/unit/support/recording_sink.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace portcullis::app {
namespace {

using namespace std::chrono_literals;
using radius::Attribute;
using radius::Bytes;
using radius::Code;
namespace attr = radius::attr;

using portcullis::testing::RecordingSink;

class SessionControlTest : public radius::testing::ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    nas_stand_in_ = std::make_unique<radius::testing::NasStandIn>([this](const Bytes& req) -> std::optional<Bytes> {
      if (silent_) return std::nullopt;
      if (req[0] == static_cast<std::uint8_t>(Code::CoaRequest) && coa_nak_cause_ != 0)
        return radius::testing::reply_to(req, Code::CoaNak, radius::testing::kSecret, coa_nak_cause_.load());
      const Code ack = req[0] == static_cast<std::uint8_t>(Code::DisconnectRequest) ? Code::DisconnectAck : Code::CoaAck;
      return radius::testing::reply_to(req, ack, radius::testing::kSecret);
    });
    SessionControlOptions options;
    options.client.initial_timeout = 200ms;
    options.find_nas = [port = nas_stand_in_->port()](const radius::IpAddress&) {
      radius::NasClient nas;
      nas.name = "wlc";
      nas.secret = radius::testing::kSecret;
      nas.coa_port = port;
      return std::optional<radius::NasClient>(nas);
    };
    options.events = &events_;
    control_ = SessionControl::create(io_, *server_, *ledger_, index_, options);
    registry_->on_revocation([c = control_](const std::vector<ca::CertificateRecord>& r) { c->on_revoked(r); });
    registry_->on_device_change([c = control_](const ca::Device& d) { c->on_device_change(d); });
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    control_->stop();
    work_.reset();
    thread_.join();
    control_.reset();
    nas_stand_in_.reset();
    ServerFixture::TearDown();
  }

  // A live session as accounting would have recorded it (ledger row and live table).
  void live(const std::string& id, const std::string& serial, bool coa = false) {
    radius::LiveSession s;
    s.nas = "wlc";
    s.acct_session_id = id;
    s.serial = serial;
    s.calling_station_id = "02-00-00-00-00-01";
    s.user_name = "anonymous@example";
    s.nas_identity.source = radius::IpAddress::parse("127.0.0.1");
    s.nas_identity.nas_identifier = "wlc-1";
    if (coa) {
      s.rule = "quarantine";
      s.coa_on_disable = true;
      s.coa_reply = {Attribute{attr::FilterId, Bytes{'q'}}};
    }
    ca::RadiusSessionRow row;
    radius::fill_row(row, s);
    row.started_at = row.updated_at = now();
    ledger_->record_radius_session(row);
    server_->live_sessions().upsert(s);
  }

  std::vector<Bytes> wait_for(std::size_t n, std::chrono::milliseconds limit = 3000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (nas_stand_in_->received().size() < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    return nas_stand_in_->received();
  }

  std::string session_of(const Bytes& request) {
    auto p = radius::parse(request);
    const Attribute* a = p->find(attr::AcctSessionId);
    return a ? std::string(a->value.begin(), a->value.end()) : "";
  }

  std::string ledger_outcome(const std::string& id) {
    for (int i = 0; i < 100; ++i) {
      for (const auto& r : ledger_->list_radius_sessions(false, 100))
        if (r.acct_session_id == id && !r.dynauth.empty()) return r.dynauth;
      std::this_thread::sleep_for(20ms);
    }
    return "";
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_)};
  std::unique_ptr<radius::testing::NasStandIn> nas_stand_in_;
  std::atomic<std::uint32_t> coa_nak_cause_{0};   // non-zero: the stand-in answers CoA-NAK with it
  std::atomic<bool> silent_{false};               // the stand-in answers nothing
  RecordingSink events_;  // before control_, which emits into it
  std::shared_ptr<SessionControl> control_;
  std::thread thread_;
};

TEST_F(SessionControlTest, RevocationDisconnectsEveryLiveSessionOfTheCertificate) {
  auto phone = issue("phone");
  auto other = issue("other");
  live("s1", phone.serial_hex);
  live("s2", phone.serial_hex);
  live("s3", other.serial_hex);
  registry_->revoke_device(phone.device_id, ca::RevocationReason::key_compromise, 0, "test");
  const auto got = wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  std::set<std::string> sessions;
  for (const Bytes& req : got) {
    EXPECT_EQ(req[0], static_cast<std::uint8_t>(Code::DisconnectRequest));
    EXPECT_TRUE(radius::verify_request_authenticator(req, radius::testing::kSecret));
    sessions.insert(session_of(req));
  }
  EXPECT_EQ(sessions, (std::set<std::string>{"s1", "s2"}));
  EXPECT_EQ(ledger_outcome("s1"), "Disconnect ACK");
  EXPECT_EQ(ledger_outcome("s2"), "Disconnect ACK");
  // ACKed: no longer live; the other device's session is untouched.
  EXPECT_TRUE(server_->live_sessions().by_serial(phone.serial_hex).empty());
  EXPECT_EQ(server_->live_sessions().by_serial(other.serial_hex).size(), 1u);
}

TEST_F(SessionControlTest, DisableSendsTheRulesCoaOrADisconnectAndEnableSendsNothing) {
  auto quarantined = issue("quarantined");
  auto plain = issue("plain");
  live("coa-1", quarantined.serial_hex, /*coa=*/true);
  live("dis-1", plain.serial_hex);
  registry_->set_device_enabled(quarantined.device_id, false, "test");
  registry_->set_device_enabled(plain.device_id, false, "test");
  auto got = wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  for (const Bytes& req : got) {
    auto p = radius::parse(req);
    if (session_of(req) == "coa-1") {
      EXPECT_EQ(p->code, Code::CoaRequest);
      ASSERT_NE(p->find(attr::FilterId), nullptr);
      EXPECT_EQ(p->find(attr::FilterId)->value, Bytes{'q'});
    } else {
      EXPECT_EQ(p->code, Code::DisconnectRequest);
      EXPECT_EQ(p->find(attr::FilterId), nullptr);
    }
  }
  EXPECT_EQ(ledger_outcome("coa-1"), "CoA ACK");
  // A CoA-ACK leaves the session up (in quarantine); the Disconnect-ACK ended the other.
  EXPECT_EQ(server_->live_sessions().by_serial(quarantined.serial_hex).size(), 1u);
  EXPECT_TRUE(server_->live_sessions().by_serial(plain.serial_hex).empty());

  registry_->set_device_enabled(quarantined.device_id, true, "test");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(nas_stand_in_->received().size(), 2u);
}

// A NAS that refuses the CoA (RFC 5176 §3.5, here Error-Cause 401 Unsupported Attribute)
// must not leave a disabled device with its access: a Disconnect-Request follows.
TEST_F(SessionControlTest, RefusedCoaIsFollowedByADisconnect) {
  coa_nak_cause_ = 401;
  auto device = issue("refuses-coa");
  live("coa-nak-1", device.serial_hex, /*coa=*/true);
  registry_->set_device_enabled(device.device_id, false, "test");
  const auto got = wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(radius::parse(got[0])->code, Code::CoaRequest);
  EXPECT_EQ(radius::parse(got[1])->code, Code::DisconnectRequest);
  EXPECT_EQ(session_of(got[1]), "coa-nak-1");
  EXPECT_EQ(radius::parse(got[1])->find(attr::FilterId), nullptr);
  for (int i = 0; i < 100 && !server_->live_sessions().by_serial(device.serial_hex).empty(); ++i)
    std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(server_->live_sessions().by_serial(device.serial_hex).empty()) << "the Disconnect-ACK ends it";
  // Each request and each answer is a decision event, in order.
  std::vector<ca::Event> events;
  for (int i = 0; i < 100 && (events = events_.events()).size() < 4; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(events.size(), 4u);
  const std::vector<std::pair<std::string, std::string>> expected{
      {"sent", "device_disabled"}, {"nak", "error_cause:401"}, {"sent", "device_disabled"}, {"ack", "ok"}};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(std::make_pair(events[i].outcome, events[i].reason), expected[i]) << i;
    EXPECT_EQ(events[i].kind, "dynauth");
    EXPECT_EQ(events[i].device, "refuses-coa");
    EXPECT_EQ(events[i].serial, device.serial_hex);
    EXPECT_EQ(events[i].mac, "02:00:00:00:00:01");
    EXPECT_EQ(events[i].nas, "wlc");
    EXPECT_EQ(events[i].nas_ip, "127.0.0.1");
  }
  EXPECT_NE(events[0].detail.find("CoA-Request"), std::string::npos) << events[0].detail;
  EXPECT_NE(events[1].detail.find("401"), std::string::npos) << events[1].detail;
}

// Error-Cause 503 (Session Context Not Found): the session is already gone, nothing follows.
TEST_F(SessionControlTest, CoaNakForAnUnknownSessionEndsItWithoutADisconnect) {
  coa_nak_cause_ = 503;
  auto device = issue("gone-already");
  live("coa-nak-2", device.serial_hex, /*coa=*/true);
  registry_->set_device_enabled(device.device_id, false, "test");
  ASSERT_EQ(wait_for(1).size(), 1u);
  std::this_thread::sleep_for(400ms);
  const auto got = nas_stand_in_->received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(radius::parse(got[0])->code, Code::CoaRequest);
  EXPECT_TRUE(server_->live_sessions().by_serial(device.serial_hex).empty());
}

TEST_F(SessionControlTest, ExpiredCertificatesLoseTheirSessionsOnce) {
  auto expired = issue_expired("old");
  auto valid = issue("young");
  live("e1", expired.serial_hex);
  live("v1", valid.serial_hex);
  EXPECT_EQ(control_->sweep(), 1u);
  const auto got = wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(session_of(got[0]), "e1");
  EXPECT_EQ(ledger_outcome("e1"), "Disconnect ACK");
  EXPECT_EQ(control_->sweep(), 0u);
}

TEST_F(SessionControlTest, TheSweepCatchesASessionWhoseAccountingCameAfterTheRevocation) {
  auto late = issue("late");
  registry_->revoke_device(late.device_id, ca::RevocationReason::key_compromise, 0, "test");
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(nas_stand_in_->received().empty());  // no session known at the time
  live("late-1", late.serial_hex);                  // the NAS's Accounting-Start, too late
  EXPECT_EQ(control_->sweep(), 1u);
  const auto got = wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(session_of(got[0]), "late-1");
  EXPECT_EQ(ledger_outcome("late-1"), "Disconnect ACK");
  EXPECT_EQ(control_->sweep(), 0u);
}

// A RadSec NAS as session control sees it (app/radsec/dynauth_channel.hpp): what it was asked
// to send down the connection, and the answer it gives as the test says.
class FakeRadsec : public DynauthChannel {
 public:
  enum class Mode { ack, closed_before_answer, not_connected };
  FakeRadsec(boost::asio::io_context& io, std::uint16_t coa_port) : io_(io), coa_port_(coa_port) {}
  std::optional<RadsecDynauthTarget> radsec_client(const std::string& nas) const override {
    if (nas != "wlc") return std::nullopt;
    RadsecDynauthTarget target;
    target.udp.name = nas;
    target.udp.coa_port = coa_port_;
    target.udp.secret = coa_secret;
    target.over_connection = over_connection;
    return target;
  }
  bool send_dynauth(const std::string& nas, radius::DynauthRequest request, std::chrono::milliseconds timeout,
                    Done done) override {
    if (mode == Mode::not_connected) return false;
    sent.push_back({nas, request.target.acct_session_id, timeout});
    const Mode m = mode;
    boost::asio::post(io_, [done = std::move(done), m] {
      if (m == Mode::ack) done(radius::DynauthResult{radius::DynauthOutcome::ack, std::nullopt, 1, 5ms});
      else done(std::nullopt);
    });
    return true;
  }
  struct Sent {
    std::string nas, session;
    std::chrono::milliseconds timeout;
  };
  std::atomic<Mode> mode{Mode::ack};
  std::string coa_secret;
  bool over_connection = true;  // the entry's dynauth_over_connection
  std::vector<Sent> sent;  // written on the registry's thread (the test's), read after the outcome

 private:
  boost::asio::io_context& io_;
  std::uint16_t coa_port_;
};

// A session on a RadSec NAS: the request goes down its connection, not to a UDP port; with the
// connection gone it falls back to UDP when the entry has a coa_secret, else says it was not sent.
TEST_F(SessionControlTest, RadsecNasesAreReachedOverTheirConnectionThenUdpThenNotAtAll) {
  auto radsec = std::make_shared<FakeRadsec>(io_, nas_stand_in_->port());
  control_->use_radsec(radsec);

  auto up = issue("up");
  live("r1", up.serial_hex);
  registry_->revoke_device(up.device_id, ca::RevocationReason::key_compromise, 0, "test");
  EXPECT_EQ(ledger_outcome("r1"), "Disconnect ACK");
  ASSERT_EQ(radsec->sent.size(), 1u);
  EXPECT_EQ(radsec->sent[0].nas, "wlc");
  EXPECT_EQ(radsec->sent[0].session, "r1");
  // As long as UDP waits through its retries: 200 + 400 + 800 ms by these options.
  EXPECT_EQ(radsec->sent[0].timeout, 1400ms);
  EXPECT_TRUE(nas_stand_in_->received().empty());

  radsec->mode = FakeRadsec::Mode::closed_before_answer;
  radsec->coa_secret = radius::testing::kSecret;
  auto dropped = issue("dropped");
  live("r2", dropped.serial_hex);
  registry_->revoke_device(dropped.device_id, ca::RevocationReason::key_compromise, 0, "test");
  const auto got = wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(radius::verify_request_authenticator(got[0], radius::testing::kSecret));
  EXPECT_EQ(session_of(got[0]), "r2");
  EXPECT_EQ(ledger_outcome("r2"), "Disconnect ACK");

  radsec->mode = FakeRadsec::Mode::not_connected;
  radsec->coa_secret.clear();
  auto gone = issue("gone");
  live("r3", gone.serial_hex);
  registry_->revoke_device(gone.device_id, ca::RevocationReason::key_compromise, 0, "test");
  EXPECT_EQ(ledger_outcome("r3"), "Disconnect not sent: no RadSec connection is up and no coa_secret for UDP");
  EXPECT_EQ(wait_for(2, 300ms).size(), 1u);  // nothing more over UDP
}

// dynauth_over_connection = false: with the connection up, the request still goes over UDP
// at once (a NAS such as radsecproxy 1.9 drops what comes down the connection), and
// without a coa_secret the outcome says it was not sent.
TEST_F(SessionControlTest, ARadsecNasKeptOffItsConnectionIsReachedOverUdpAtOnce) {
  auto radsec = std::make_shared<FakeRadsec>(io_, nas_stand_in_->port());
  radsec->over_connection = false;
  radsec->coa_secret = radius::testing::kSecret;
  control_->use_radsec(radsec);

  auto off = issue("off-connection");
  live("o1", off.serial_hex);
  const auto started = std::chrono::steady_clock::now();
  registry_->revoke_device(off.device_id, ca::RevocationReason::key_compromise, 0, "test");
  const auto got = wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  // Not after the connection's timeout (1400 ms by these options): nothing waited on it.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1000ms);
  EXPECT_TRUE(radius::verify_request_authenticator(got[0], radius::testing::kSecret));
  EXPECT_EQ(session_of(got[0]), "o1");
  EXPECT_EQ(ledger_outcome("o1"), "Disconnect ACK");
  EXPECT_TRUE(radsec->sent.empty()) << "nothing went down the connection";

  radsec->coa_secret.clear();
  auto unsent = issue("off-no-secret");
  live("o2", unsent.serial_hex);
  registry_->revoke_device(unsent.device_id, ca::RevocationReason::key_compromise, 0, "test");
  EXPECT_EQ(ledger_outcome("o2"), "Disconnect not sent: dynauth_over_connection = false and no coa_secret for UDP");
  EXPECT_TRUE(radsec->sent.empty());
  const auto events = events_.events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(std::make_pair(events.back().outcome, events.back().reason),
            std::make_pair(std::string("not_sent"), std::string("not_over_connection")));
  EXPECT_EQ(wait_for(2, 300ms).size(), 1u);  // nothing more over UDP
}

// Two nodes on one ledger that both hold a session in memory (its NAS failed accounting
// over, or a restart reloaded it): the revocation reaches both (the local observer on one,
// the change follower on the other), the ledger claim lets exactly one of them send.
TEST_F(SessionControlTest, TwoNodesHoldingTheSessionSendOneDisconnect) {
  silent_ = true;   // no answer: the session stays live on both, and each node sends once
  SessionControlOptions options;
  options.client.initial_timeout = 200ms;
  options.client.attempts = 1;
  options.find_nas = [port = nas_stand_in_->port()](const radius::IpAddress&) {
    radius::NasClient nas;
    nas.name = "wlc";
    nas.secret = radius::testing::kSecret;
    nas.coa_port = port;
    return std::optional<radius::NasClient>(nas);
  };
  auto node_a = SessionControl::create(io_, *server_, *ledger_, index_, options);
  auto node_b = SessionControl::create(io_, *server_, *ledger_, index_, options);
  auto roamer = issue("roamer");
  live("both-1", roamer.serial_hex);
  // Committed elsewhere; each node's observer hears of it (the local one, the follower).
  const auto revoked = ledger_->revoke_device(roamer.device_id, ca::RevocationReason::key_compromise, 0, "test");
  node_a->on_revoked(revoked);
  node_b->on_revoked(revoked);
  ASSERT_EQ(wait_for(1).size(), 1u);
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(nas_stand_in_->received().size(), 1u) << "one Disconnect-Request across both nodes";
  // Nor does either node's sweep send it again.
  EXPECT_EQ(node_a->sweep() + node_b->sweep(), 0u);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(nas_stand_in_->received().size(), 1u);
  node_a->stop();
  node_b->stop();
}

// A node hearing of its own revocation twice (its registry, and its change follower when
// that read the change before the registry updated the index) acts once, also for a
// session known from its Access-Accept alone, which no ledger claim covers.
TEST_F(SessionControlTest, ARevocationHeardTwiceOnOneNodeIsActedOnOnce) {
  auto device = issue("heard-twice");
  radius::AcceptRecord accept;
  accept.serial = device.serial_hex;
  accept.device = "heard-twice";
  accept.nas = "wlc";
  accept.calling_station_id = "02-00-00-00-00-09";
  accept.user_name = "anonymous@example";
  accept.nas_identity.source = radius::IpAddress::parse("127.0.0.1");
  accept.accepted_at = now();
  accept.ends_at = now() + 3600;
  server_->accept_records().remember(accept);
  silent_ = true;   // unanswered, the Accept stays on record for the second call to find
  const auto revoked = registry_->revoke_device(device.device_id, ca::RevocationReason::key_compromise, 0, "test");
  control_->on_revoked(revoked);   // as the change follower would, a moment later
  ASSERT_FALSE(wait_for(1).empty());
  std::this_thread::sleep_for(300ms);
  // Retransmissions keep their Identifier (RFC 5176 §2.3): one Identifier, one request.
  std::set<std::uint8_t> identifiers;
  for (const Bytes& req : nas_stand_in_->received()) identifiers.insert(req[1]);
  EXPECT_EQ(identifiers.size(), 1u);
}

// Disabling, enabling, disabling again: two causes, two requests (the claim of the first
// disable is cleared by the enable).
TEST_F(SessionControlTest, ASecondDisableAfterAnEnableIsActedOnAgain) {
  auto device = issue("flapping");
  live("flap-1", device.serial_hex, /*coa=*/true);
  registry_->set_device_enabled(device.device_id, false, "test");
  ASSERT_EQ(wait_for(1).size(), 1u);
  registry_->set_device_enabled(device.device_id, true, "test");
  registry_->set_device_enabled(device.device_id, false, "test");
  const auto got = wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(radius::parse(got[1])->code, Code::CoaRequest);
}

}  // namespace
}  // namespace portcullis::app
