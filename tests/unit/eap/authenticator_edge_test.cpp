// radius/eap/authenticator: protocol edge cases driven by hand-made EAP packets —
// Identifier rules, Nak, round-trip cap, and peers that lie about fragment lengths.
#include "radius/eap/authenticator.hpp"

#include "eap_fixture.hpp"

#include <gtest/gtest.h>

namespace portcullis::radius::eap::testing {
namespace {

class EdgeTest : public EapFixture {
 protected:
  // Starts a conversation from a NAS-forwarded Identity (Identifier 5); returns the
  // Identifier of the EAP-TLS Start the server sent.
  std::uint8_t start(Authenticator& a) {
    const Bytes id = build_response(5, Type::identity, Bytes{'x'});
    const AuthenticatorOutput out = a.step({id, std::nullopt});
    EXPECT_EQ(out.decision, Decision::request);
    EXPECT_EQ(out.eap_message, build_request(6, Type::tls, tls_start_frame()));
    return out.eap_message.at(1);
  }
  AuthenticatorOutput tls(Authenticator& a, std::uint8_t id, std::uint8_t flags, std::optional<std::uint32_t> length,
                          const Bytes& data) {
    return a.step({build_response(id, Type::tls, build_tls_frame(flags, length, data)), std::nullopt});
  }
};

TEST_F(EdgeTest, WrongIdentifierIsSilentlyDiscarded) {
  const Client c = issue("id-test");
  Authenticator a(auth_config());
  EapTlsPeer peer(peer_options(&c));
  AuthenticatorOutput out = a.step({peer.identity_response(9), std::nullopt});
  ASSERT_EQ(out.decision, Decision::request);
  Bytes response = *peer.respond(out.eap_message);  // the ClientHello

  Bytes stale = response;
  stale[1] = static_cast<std::uint8_t>(stale[1] - 1);  // answers an older Request
  const AuthenticatorOutput ignored = a.step({stale, std::nullopt});
  EXPECT_EQ(ignored.decision, Decision::discard);
  EXPECT_TRUE(ignored.eap_message.empty());
  EXPECT_NE(ignored.reason.find("Identifier"), std::string::npos);
  // Garbage and packets that are not Responses are discarded the same way.
  EXPECT_EQ(a.step({Bytes{2, 1, 0xFF}, std::nullopt}).decision, Decision::discard);
  EXPECT_EQ(a.step({build_request(response[1], Type::tls, tls_ack_frame()), std::nullopt}).decision, Decision::discard);
  EXPECT_EQ(a.step({Bytes{}, std::nullopt}).decision, Decision::discard);
  EXPECT_EQ(a.state(), Authenticator::State::tls_start);

  // The right Response still carries the conversation to Success.
  out = a.step({response, std::nullopt});
  for (int i = 0; i < 100 && out.decision == Decision::request; ++i) out = a.step({*peer.respond(out.eap_message), std::nullopt});
  EXPECT_EQ(out.decision, Decision::success) << out.reason;
}

TEST_F(EdgeTest, NakGetsTlsProposedOnceMoreThenSucceeds) {
  const Client c = issue("nak-then-tls");
  Authenticator a(auth_config());
  const std::uint8_t id = start(a);
  AuthenticatorOutput out = a.step({build_response(id, Type::nak, Bytes{4, 26}), std::nullopt});
  ASSERT_EQ(out.decision, Decision::request);
  EXPECT_EQ(out.eap_message, build_request(static_cast<std::uint8_t>(id + 1), Type::tls, tls_start_frame()));
  EapTlsPeer peer(peer_options(&c));
  for (int i = 0; i < 100 && out.decision == Decision::request; ++i) out = a.step({*peer.respond(out.eap_message), std::nullopt});
  EXPECT_EQ(out.decision, Decision::success) << out.reason;
}

TEST_F(EdgeTest, SecondNakFails) {
  Authenticator a(auth_config());
  std::uint8_t id = start(a);
  AuthenticatorOutput out = a.step({build_response(id, Type::nak, Bytes{25}), std::nullopt});
  ASSERT_EQ(out.decision, Decision::request);
  id = out.eap_message[1];
  out = a.step({build_response(id, Type::nak, Bytes{25}), std::nullopt});
  EXPECT_EQ(out.decision, Decision::failure);
  EXPECT_EQ(out.eap_message, build_failure(id));
  EXPECT_NE(out.reason.find("Nak"), std::string::npos);
  EXPECT_EQ(out.code, "eap_method");
  EXPECT_NE(out.reason.find("the peer wants PEAP (25)"), std::string::npos) << out.reason;
}

TEST_F(EdgeTest, NakWithoutAlternativeFails) {
  Authenticator a(auth_config());
  const std::uint8_t id = start(a);
  const AuthenticatorOutput out = a.step({build_response(id, Type::nak, Bytes{0}), std::nullopt});
  EXPECT_EQ(out.decision, Decision::failure);
  EXPECT_EQ(out.code, "eap_method");
}

TEST_F(EdgeTest, AnyOtherMethodFails) {
  Authenticator a(auth_config());
  const std::uint8_t id = start(a);
  const AuthenticatorOutput out = a.step({build_response(id, Type::md5_challenge, Bytes{16}), std::nullopt});
  EXPECT_EQ(out.decision, Decision::failure);
  EXPECT_NE(out.reason.find("Type 4"), std::string::npos);
  EXPECT_EQ(out.code, "eap_protocol");
}

TEST_F(EdgeTest, FirstPacketMustBeAnIdentityResponse) {
  Authenticator a(auth_config());
  const AuthenticatorOutput out = a.step({build_response(3, Type::tls, tls_ack_frame()), std::nullopt});
  EXPECT_EQ(out.decision, Decision::failure);
  EXPECT_EQ(out.eap_message, build_failure(3));
  Authenticator b(auth_config());
  EXPECT_EQ(b.step({Bytes{2, 3, 0, 200}, std::nullopt}).decision, Decision::failure);
}

TEST_F(EdgeTest, NakOutsideTheStartOfTheMethodFails) {
  Authenticator a(auth_config());
  const AuthenticatorOutput first = a.step({Bytes{}, std::nullopt});  // EAP-Request/Identity
  ASSERT_EQ(first.decision, Decision::request);
  EXPECT_EQ(a.step({build_response(first.eap_message[1], Type::nak, Bytes{13}), std::nullopt}).decision,
            Decision::failure);
}

TEST_F(EdgeTest, AnnouncingAMegabyteFailsWithoutAllocatingIt) {
  Authenticator a(auth_config());
  const std::uint8_t id = start(a);
  const AuthenticatorOutput out = tls(a, id, kTlsFlagMore, 1'000'000u, Bytes(100, 0x16));
  EXPECT_EQ(out.decision, Decision::failure);
  EXPECT_NE(out.reason.find("cap"), std::string::npos) << out.reason;
}

TEST_F(EdgeTest, FragmentsExceedingTheAnnouncedLengthFail) {
  Authenticator a(auth_config());
  const std::uint8_t id = start(a);
  AuthenticatorOutput out = tls(a, id, kTlsFlagMore, 2000u, Bytes(1000, 0x16));
  ASSERT_EQ(out.decision, Decision::request);
  EXPECT_EQ(out.eap_message, build_request(static_cast<std::uint8_t>(id + 1), Type::tls, tls_ack_frame()));
  out = tls(a, out.eap_message[1], 0, std::nullopt, Bytes(1500, 0x16));
  EXPECT_EQ(out.decision, Decision::failure);
  EXPECT_NE(out.reason.find("exceed"), std::string::npos) << out.reason;
}

TEST_F(EdgeTest, FragmentsFallingShortOfTheAnnouncedLengthFail) {
  Authenticator a(auth_config());
  const std::uint8_t id = start(a);
  AuthenticatorOutput out = tls(a, id, kTlsFlagMore, 5000u, Bytes(1000, 0x16));
  ASSERT_EQ(out.decision, Decision::request);
  out = tls(a, out.eap_message[1], 0, std::nullopt, Bytes(10, 0x16));
  EXPECT_EQ(out.decision, Decision::failure);
  EXPECT_NE(out.reason.find("add up"), std::string::npos) << out.reason;
}

TEST_F(EdgeTest, UnfragmentedLengthThatLiesFails) {
  Authenticator a(auth_config());
  const std::uint8_t id = start(a);
  EXPECT_EQ(tls(a, id, 0, 50u, Bytes(20, 0x16)).decision, Decision::failure);
}

TEST_F(EdgeTest, TruncatedEapTlsHeaderFails) {
  Authenticator a(auth_config());
  const std::uint8_t id = start(a);
  const Bytes frame = {kTlsFlagLength, 0x00, 0x01};
  EXPECT_EQ(a.step({build_response(id, Type::tls, frame), std::nullopt}).decision, Decision::failure);
}

TEST_F(EdgeTest, GarbageInsteadOfAClientHelloEndsInFailure) {
  Authenticator a(auth_config());
  std::uint8_t id = start(a);
  AuthenticatorOutput out = tls(a, id, 0, std::nullopt, Bytes(64, 0x42));
  // Either straight to Failure or via a TLS alert the peer acknowledges first.
  if (out.decision == Decision::request) {
    EXPECT_EQ(a.state(), Authenticator::State::tls_alert);
    id = out.eap_message[1];
    out = a.step({build_response(id, Type::tls, tls_ack_frame()), std::nullopt});
  }
  EXPECT_EQ(out.decision, Decision::failure);
  EXPECT_EQ(out.eap_message, build_failure(id));
}

TEST_F(EdgeTest, EmptyResponseToStartFails) {
  Authenticator a(auth_config());
  const std::uint8_t id = start(a);
  EXPECT_EQ(a.step({build_response(id, Type::tls, tls_ack_frame()), std::nullopt}).decision, Decision::failure);
}

TEST_F(EdgeTest, DataInsteadOfTheFinalEmptyResponseFails) {
  // RFC 9190 §2.1.1: after the 0x00 commitment the peer sends an empty response; anything
  // else (here: a stray record) ends the conversation without Success.
  const Client c = issue("chatty-peer");
  Authenticator a(auth_config());
  EapTlsPeer peer(peer_options(&c, TLS1_3_VERSION));
  AuthenticatorOutput out = a.step({peer.identity_response(1), std::nullopt});
  for (int i = 0; i < 100 && a.state() != Authenticator::State::tls_final; ++i) {
    ASSERT_EQ(out.decision, Decision::request) << out.reason;
    out = a.step({*peer.respond(out.eap_message), std::nullopt});
  }
  ASSERT_EQ(a.state(), Authenticator::State::tls_final);
  EXPECT_EQ(peer.app_data(), Bytes{});  // the commitment is in `out`, not yet delivered
  out = tls(a, out.eap_message[1], 0, std::nullopt, Bytes{0x17, 0x03, 0x03, 0x00, 0x01, 0x00});
  EXPECT_EQ(out.decision, Decision::failure);
  EXPECT_FALSE(out.keys);
}

TEST_F(EdgeTest, RoundTripCap) {
  const Client c = issue("slow-peer");
  AuthenticatorConfig cfg = auth_config(100);
  cfg.max_round_trips = 8;
  Authenticator a(cfg);
  EapTlsPeer peer(peer_options(&c, TLS1_3_VERSION, 100));
  const Conversation conv = run(a, peer);
  EXPECT_EQ(conv.final.decision, Decision::failure);
  EXPECT_NE(conv.final.reason.find("round-trip"), std::string::npos) << conv.final.reason;
  EXPECT_EQ(a.requests_sent(), 8u);
}

}  // namespace
}  // namespace portcullis::radius::eap::testing
