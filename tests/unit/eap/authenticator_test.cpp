// radius/eap/authenticator: whole EAP-TLS conversations between the server state machine
// and a real OpenSSL supplicant, with certificates from a real CA and ledger.
#include "radius/eap/authenticator.hpp"

#include "eap_fixture.hpp"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace portcullis::radius::eap::testing {
namespace {

const char* version_name(int v) { return v == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"; }

// The EAP-TLS frames of every TLS Request in a conversation.
std::vector<TlsFrame> tls_frames(const Conversation& conv, std::vector<Bytes>& storage) {
  std::vector<TlsFrame> frames;
  storage.clear();
  for (const Bytes& r : conv.requests) {
    ParseResult p = parse_packet(r);
    if (!p.packet || p.packet->type != static_cast<std::uint8_t>(Type::tls)) continue;
    storage.push_back(p.packet->type_data);
  }
  for (const Bytes& td : storage) frames.push_back(*parse_tls_frame(td).frame);
  return frames;
}

// ---- full handshakes -------------------------------------------------------------------

using Matrix = std::tuple<int, std::size_t, bool>;  // TLS version, fragment size, RSA client key

class FullHandshake : public EapFixture, public ::testing::WithParamInterface<Matrix> {};

TEST_P(FullHandshake, SucceedsAndBothSidesDeriveTheSameKeys) {
  const auto [version, fragment, rsa] = GetParam();
  const Client c = issue(rsa ? "laptop-rsa" : "laptop-ec", rsa);
  Authenticator a(auth_config(fragment));
  EapTlsPeer peer(peer_options(&c, version, fragment));
  const Conversation conv = run(a, peer);
  const AuthenticatorOutput& out = conv.final;

  ASSERT_EQ(out.decision, Decision::success) << out.reason;
  EXPECT_TRUE(peer.saw_success());
  EXPECT_TRUE(a.finished());
  // RFC 3748 §4.2: Success reuses the Identifier of the last Response.
  EXPECT_EQ(out.eap_message, build_success(peer.last_response_id()));
  ASSERT_TRUE(out.keys);
  const KeyMaterial mine = peer.keys();
  EXPECT_EQ(out.keys->msk, mine.msk);
  EXPECT_EQ(out.keys->emsk, mine.emsk);
  EXPECT_EQ(out.tls_version, version_name(version));
  EXPECT_FALSE(out.resumed);
  EXPECT_EQ(out.eap_identity, "anonymous@example.net");
  ASSERT_TRUE(out.peer);
  EXPECT_EQ(out.peer->serial_hex, c.serial_hex);
  EXPECT_EQ(out.peer->identity.verdict, ca::IdentityVerdict::good);
  EXPECT_EQ(out.peer->identity.device_id, c.device_id);
  EXPECT_EQ(out.peer->identity.device_name, c.device_name);

  // RFC 9190 §2.5: exactly one byte of application data, 0x00, and only with TLS 1.3.
  if (version == TLS1_3_VERSION) {
    EXPECT_EQ(peer.app_data(), Bytes{0x00});
  } else {
    EXPECT_TRUE(peer.app_data().empty());
  }
  // The peer's last word before Success is an empty EAP-TLS response.
  EXPECT_EQ(conv.responses.back(), build_response(peer.last_response_id(), Type::tls, tls_ack_frame()));

  // RFC 3748 §4.1: a fresh Identifier per Request, following the NAS's Identity Request (42).
  for (std::size_t i = 0; i < conv.requests.size(); ++i) {
    EXPECT_EQ(conv.requests[i][1], static_cast<std::uint8_t>(43 + i));
  }
  // RFC 5216 §2.1.5: L only on first fragments, M on all but the last, no oversize data.
  std::vector<Bytes> storage;
  const std::vector<TlsFrame> frames = tls_frames(conv, storage);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.front().flags, kTlsFlagStart);
  bool fragmented = false;
  bool previous_more = false;
  for (const TlsFrame& f : frames) {
    EXPECT_LE(f.data.size(), fragment);
    if (f.message_length) {
      EXPECT_TRUE(f.more()) << "L only on the first fragment of a fragmented message";
      EXPECT_FALSE(previous_more);
      fragmented = true;
    }
    if (!f.data.empty()) previous_more = f.more();
  }
  if (fragment < 1000) {
    EXPECT_TRUE(fragmented);
  }
  EXPECT_EQ(a.requests_sent(), conv.requests.size());

  // Keys never reach the log.
  const std::string msk_hex = ca::to_hex(out.keys->msk);
  for (const std::string& line : log_) EXPECT_EQ(line.find(msk_hex.substr(0, 16)), std::string::npos) << line;
}

INSTANTIATE_TEST_SUITE_P(
    VersionsFragmentsKeys, FullHandshake,
    ::testing::Combine(::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION), ::testing::Values(std::size_t{300}, std::size_t{1400}),
                       ::testing::Bool()),
    [](const ::testing::TestParamInfo<Matrix>& info) {
      return std::string(std::get<0>(info.param) == TLS1_3_VERSION ? "tls13" : "tls12") + "_frag" +
             std::to_string(std::get<1>(info.param)) + (std::get<2>(info.param) ? "_rsa" : "_p256");
    });

class AuthenticatorTest : public EapFixture {};

TEST_F(AuthenticatorTest, StartsWithRequestIdentityWhenTheNasSendsNoEapMessage) {
  const Client c = issue("phone-1");
  Authenticator a(auth_config());
  EapTlsPeer peer(peer_options(&c));
  const Conversation conv = run(a, peer, std::nullopt, /*nas_identity=*/false);
  ASSERT_EQ(conv.final.decision, Decision::success) << conv.final.reason;
  ParseResult first = parse_packet(conv.requests.front());
  ASSERT_TRUE(first.packet);
  EXPECT_EQ(first.packet->code, Code::request);
  EXPECT_EQ(first.packet->type, static_cast<std::uint8_t>(Type::identity));
  EXPECT_EQ(conv.final.tls_version, "TLSv1.3");  // both on: 1.3 wins
}

TEST_F(AuthenticatorTest, LogsStateChangesLikeHostapd) {
  const Client c = issue("phone-log");
  Authenticator a(auth_config(300));
  EapTlsPeer peer(peer_options(&c, TLS1_3_VERSION, 300));
  ASSERT_EQ(run(a, peer).final.decision, Decision::success);
  auto logged = [&](const std::string& s) {
    for (const auto& l : log_) if (l == s) return true;
    return false;
  };
  EXPECT_TRUE(logged("EAP: IDLE -> TLS_START"));
  EXPECT_TRUE(logged("EAP: TLS_START -> TLS"));
  EXPECT_TRUE(logged("EAP: TLS -> TLS_FINAL"));
  EXPECT_TRUE(logged("EAP: TLS_FINAL -> SUCCESS"));
  EXPECT_TRUE(logged("EAP-TLS: MSG -> WAIT_FRAG_ACK"));
  EXPECT_TRUE(logged("EAP-TLS: WAIT_FRAG_ACK -> MSG"));
  EXPECT_TRUE(logged("EAP-TLS: MSG -> FRAG_ACK"));  // the peer's 300-octet fragments
}

TEST_F(AuthenticatorTest, PeerSendingLOnUnfragmentedMessagesIsFine) {
  const Client c = issue("phone-l");
  Authenticator a(auth_config());
  PeerOptions o = peer_options(&c, TLS1_2_VERSION);
  o.length_on_unfragmented = true;
  EapTlsPeer peer(o);
  EXPECT_EQ(run(a, peer).final.decision, Decision::success);
}

TEST_F(AuthenticatorTest, StepAfterTheEndIsDiscarded) {
  const Client c = issue("phone-end");
  Authenticator a(auth_config());
  EapTlsPeer peer(peer_options(&c));
  ASSERT_EQ(run(a, peer).final.decision, Decision::success);
  const AuthenticatorOutput again = a.step({build_response(1, Type::tls, tls_ack_frame()), std::nullopt});
  EXPECT_EQ(again.decision, Decision::discard);
  EXPECT_TRUE(again.eap_message.empty());
}

// ---- Framed-MTU ----------------------------------------------------------------------------

TEST(FragmentSize, FollowsFramedMtuWithTheRfc3748Floor) {
  EXPECT_EQ(effective_fragment_size(1398, std::nullopt), 1398u);
  EXPECT_EQ(effective_fragment_size(1398, 1400), 1386u);  // 1400 - 4 (EAPOL) - 10 (EAP-TLS)
  EXPECT_EQ(effective_fragment_size(300, 1400), 300u);
  EXPECT_EQ(effective_fragment_size(1398, 600), 1010u);   // EAP MTU never below 1020
  EXPECT_EQ(effective_fragment_size(1398, 0), 1010u);
}

TEST_F(AuthenticatorTest, FramedMtuBoundsEveryRequest) {
  const Client c = issue("phone-mtu", /*rsa=*/true);
  Authenticator a(auth_config(1398));
  EapTlsPeer peer(peer_options(&c, TLS1_2_VERSION));
  const Conversation conv = run(a, peer, 600u);
  ASSERT_EQ(conv.final.decision, Decision::success) << conv.final.reason;
  std::size_t largest = 0;
  for (const Bytes& r : conv.requests) largest = std::max(largest, r.size());
  EXPECT_EQ(largest, 1020u);  // the server flight is fragmented at exactly the EAP MTU
}

// ---- rejections --------------------------------------------------------------------------

class Rejections : public EapFixture, public ::testing::WithParamInterface<int> {
 protected:
  Conversation attempt(const Client* c) {
    Authenticator a(auth_config());
    EapTlsPeer peer(peer_options(c, GetParam()));
    Conversation conv = run(a, peer);
    EXPECT_EQ(conv.final.decision, Decision::failure);
    EXPECT_TRUE(peer.saw_failure());
    EXPECT_FALSE(conv.final.keys);
    // RFC 3748 §4.2: Failure reuses the Identifier of the last Response.
    EXPECT_EQ(conv.final.eap_message, build_failure(conv.responses.empty() ? 42 : peer.last_response_id()));
    last_peer_error_ = peer.tls_error();
    return conv;
  }
  std::string last_peer_error_;
};

TEST_P(Rejections, ClientCertificateFromAnotherCa) {
  const Client c = issue_foreign("intruder");
  const Conversation conv = attempt(&c);
  EXPECT_EQ(conv.final.reason, "unknown");   // not a certificate the ledger knows
  EXPECT_EQ(conv.final.code, "unknown_issuer");  // nor one naming our CA as its issuer
  ASSERT_TRUE(conv.final.peer);
  EXPECT_EQ(conv.final.peer->issuer, ca::subject_string(foreign_ca_.get()));
  EXPECT_FALSE(last_peer_error_.empty());  // the peer got a TLS alert first (RFC 5216 §2.1.3)
}

TEST_P(Rejections, ClientThatDoesNotTrustOurServerSaysUnknownCa) {
  const Client c = issue("laptop-wrong-profile");
  Authenticator a(auth_config());
  PeerOptions o = peer_options(&c, GetParam());
  o.trust_root = foreign_ca_.get();  // its profile installed another root
  EapTlsPeer peer(o);
  const Conversation conv = run(a, peer);
  EXPECT_EQ(conv.final.decision, Decision::failure);
  EXPECT_EQ(conv.final.code, "tls_alert:unknown_ca") << conv.final.reason;
  EXPECT_NE(conv.final.reason.find("the client sent TLS alert unknown_ca"), std::string::npos) << conv.final.reason;
}

TEST_P(Rejections, NoClientCertificate) {
  const Conversation conv = attempt(nullptr);
  EXPECT_NE(conv.final.reason.find("certificate"), std::string::npos) << conv.final.reason;
  EXPECT_EQ(conv.final.code, "no_client_certificate");
  EXPECT_FALSE(conv.final.peer);
}

TEST_P(Rejections, RevokedBetweenTwoConversations) {
  const Client c = issue("laptop-revoked");
  {
    Authenticator a(auth_config());
    EapTlsPeer peer(peer_options(&c, GetParam()));
    ASSERT_EQ(run(a, peer).final.decision, Decision::success);
  }
  registry_->revoke(c.serial_hex, ca::RevocationReason::key_compromise, now(), "test");
  const Conversation conv = attempt(&c);
  EXPECT_EQ(conv.final.reason, "revoked");
  EXPECT_EQ(conv.final.code, "revoked");
  ASSERT_TRUE(conv.final.peer);
  EXPECT_EQ(conv.final.peer->serial_hex, c.serial_hex);
  EXPECT_EQ(conv.final.peer->identity.device_name, "laptop-revoked");
  EXPECT_NE(last_peer_error_.find("revoked"), std::string::npos) << last_peer_error_;  // certificate_revoked alert
}

TEST_P(Rejections, DisabledDevice) {
  const Client c = issue("laptop-disabled");
  registry_->set_device_enabled(c.device_id, false, "test");
  const Conversation conv = attempt(&c);
  EXPECT_EQ(conv.final.reason, "device_disabled");
  EXPECT_EQ(conv.final.code, "device_disabled");
}

TEST_P(Rejections, ExpiredCertificate) {
  const Client c = issue_expired("laptop-expired");
  const Conversation conv = attempt(&c);
  EXPECT_NE(conv.final.reason.find("expired"), std::string::npos) << conv.final.reason;
  EXPECT_EQ(conv.final.code, "expired");
}

INSTANTIATE_TEST_SUITE_P(Versions, Rejections, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == TLS1_3_VERSION ? "tls13" : "tls12");
                         });

// ---- resumption ---------------------------------------------------------------------------

using ResumeCase = std::tuple<int, bool>;  // TLS version, session IDs instead of tickets (1.2)

class Resumption : public EapFixture, public ::testing::WithParamInterface<ResumeCase> {
 protected:
  PeerOptions options(const Client& c) const {
    PeerOptions o = peer_options(&c, std::get<0>(GetParam()), 1398);
    o.no_tickets = std::get<1>(GetParam());
    return o;
  }
};

TEST_P(Resumption, ResumesAndReChecksTheSerialEveryTime) {
  const Client c = issue("tablet-1");
  ca::SslSessionPtr saved;
  {
    Authenticator a(auth_config());
    EapTlsPeer peer(options(c));
    const Conversation conv = run(a, peer);
    ASSERT_EQ(conv.final.decision, Decision::success) << conv.final.reason;
    EXPECT_FALSE(conv.final.resumed);
    saved = peer.session();
    ASSERT_TRUE(saved);
    ASSERT_EQ(SSL_SESSION_is_resumable(saved.get()), 1);
  }
  {
    Authenticator a(auth_config());
    PeerOptions o = options(c);
    o.resume = saved.get();
    EapTlsPeer peer(o);
    const Conversation conv = run(a, peer);
    ASSERT_EQ(conv.final.decision, Decision::success) << conv.final.reason;
    EXPECT_TRUE(conv.final.resumed);
    EXPECT_TRUE(peer.resumed());
    ASSERT_TRUE(conv.final.keys);
    EXPECT_EQ(conv.final.keys->msk, peer.keys().msk);
    EXPECT_EQ(conv.final.keys->emsk, peer.keys().emsk);
    ASSERT_TRUE(conv.final.peer);
    EXPECT_EQ(conv.final.peer->serial_hex, c.serial_hex);
    EXPECT_EQ(conv.final.peer->identity.device_name, "tablet-1");
    if (std::get<0>(GetParam()) == TLS1_3_VERSION) {
      EXPECT_EQ(peer.app_data(), Bytes{0x00});
    }
  }
  // A revoked certificate never resumes.
  registry_->revoke(c.serial_hex, ca::RevocationReason::key_compromise, now(), "test");
  {
    Authenticator a(auth_config());
    PeerOptions o = options(c);
    o.resume = saved.get();
    EapTlsPeer peer(o);
    const Conversation conv = run(a, peer);
    EXPECT_EQ(conv.final.decision, Decision::failure);
    EXPECT_EQ(conv.final.reason, "revoked");
    EXPECT_TRUE(conv.final.resumed);  // refused on the resumption path itself
    EXPECT_FALSE(peer.saw_success());
    EXPECT_FALSE(conv.final.keys);
  }
}

TEST_P(Resumption, DisablingTheDeviceStopsResumptionToo) {
  const Client c = issue("tablet-2");
  ca::SslSessionPtr saved;
  {
    Authenticator a(auth_config());
    EapTlsPeer peer(options(c));
    ASSERT_EQ(run(a, peer).final.decision, Decision::success);
    saved = peer.session();
  }
  registry_->set_device_enabled(c.device_id, false, "test");
  Authenticator a(auth_config());
  PeerOptions o = options(c);
  o.resume = saved.get();
  EapTlsPeer peer(o);
  const Conversation conv = run(a, peer);
  EXPECT_EQ(conv.final.decision, Decision::failure);
  EXPECT_EQ(conv.final.reason, "device_disabled");
}

INSTANTIATE_TEST_SUITE_P(Modes, Resumption,
                         ::testing::Values(ResumeCase{TLS1_2_VERSION, false}, ResumeCase{TLS1_2_VERSION, true},
                                           ResumeCase{TLS1_3_VERSION, false}),
                         [](const ::testing::TestParamInfo<ResumeCase>& info) {
                           if (std::get<0>(info.param) == TLS1_3_VERSION) return std::string("tls13_tickets");
                           return std::string(std::get<1>(info.param) ? "tls12_session_ids" : "tls12_tickets");
                         });

}  // namespace
}  // namespace portcullis::radius::eap::testing
