// RFC 5176 requests as we encode them (attributes, Event-Timestamp, Request Authenticator,
// Message-Authenticator) and the check of a NAS's answer.
#include "radius/attribute_values.hpp"
#include "radius/dynauth.hpp"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::radius {
namespace {

const std::string kSecret = "coa-secret";

DynauthRequest disconnect_request() {
  DynauthRequest r;
  r.kind = DynauthKind::disconnect;
  r.target.nas_name = "wlc-1";
  r.target.address = IpAddress::parse("192.0.2.10").value();
  r.target.secret = kSecret;
  r.target.nas_ip_address = std::array<std::uint8_t, 4>{192, 0, 2, 10};
  r.target.acct_session_id = "sess-42";
  r.target.calling_station_id = "02-00-00-00-00-01";
  r.target.user_name = "anonymous@example";
  return r;
}

std::string text(const Attribute* a) { return a ? std::string(a->value.begin(), a->value.end()) : "<absent>"; }

Bytes answer(const Bytes& request, Code code, const std::string& secret, std::optional<std::uint32_t> error_cause = {},
             std::optional<std::uint8_t> identifier = {}) {
  Packet reply;
  reply.code = code;
  reply.identifier = identifier.value_or(request[1]);
  if (error_cause) reply.add_integer(attr::ErrorCause, *error_cause);
  Authenticator ra{};
  std::copy_n(request.begin() + 4, 16, ra.begin());
  return encode_reply(reply, ra, secret, true).value();
}

TEST(Dynauth, DisconnectRequestCarriesTheSessionAndIsAuthenticated) {
  const Bytes wire = encode_dynauth_request(disconnect_request(), 7, 1'800'000'000);
  auto p = parse(wire);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->code, Code::DisconnectRequest);
  EXPECT_EQ(p->identifier, 7);
  // Message-Authenticator first (BlastRADIUS), then NAS and session identification.
  ASSERT_FALSE(p->attributes.empty());
  EXPECT_EQ(p->attributes.front().type, attr::MessageAuthenticator);
  ASSERT_NE(p->find(attr::NasIpAddress), nullptr);
  EXPECT_EQ(p->find(attr::NasIpAddress)->value, (Bytes{192, 0, 2, 10}));
  EXPECT_EQ(p->find(attr::NasIdentifier), nullptr);
  EXPECT_EQ(text(p->find(attr::AcctSessionId)), "sess-42");
  EXPECT_EQ(text(p->find(attr::CallingStationId)), "02-00-00-00-00-01");
  EXPECT_EQ(text(p->find(attr::UserName)), "anonymous@example");
  EXPECT_EQ(p->integer(attr::EventTimestamp), 1'800'000'000u);
  // RFC 5176 §3.5: Request Authenticator = MD5 over the packet with zeros and the secret;
  // Message-Authenticator over the packet with a zero Request Authenticator.
  EXPECT_TRUE(verify_request_authenticator(wire, kSecret));
  EXPECT_FALSE(verify_request_authenticator(wire, "other"));
  EXPECT_EQ(check_message_authenticator(wire, kSecret), MessageAuthenticatorStatus::Valid);
  EXPECT_EQ(check_message_authenticator(wire, "other"), MessageAuthenticatorStatus::Invalid);
}

TEST(Dynauth, NasIdentificationIsWhatTheNasSent) {
  DynauthRequest r = disconnect_request();
  r.target.nas_ip_address.reset();
  r.target.nas_identifier = "ap-7.example";
  Bytes wire = encode_dynauth_request(r, 1, 1);
  auto p = parse(wire);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->find(attr::NasIpAddress), nullptr);
  EXPECT_EQ(text(p->find(attr::NasIdentifier)), "ap-7.example");

  r.target.nas_identifier.clear();
  std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 1;
  r.target.nas_ipv6_address = v6;
  wire = encode_dynauth_request(r, 1, 1);
  p = parse(wire);
  ASSERT_TRUE(p.ok());
  ASSERT_NE(p->find(attr::NasIpv6Address), nullptr);
  EXPECT_EQ(p->find(attr::NasIpv6Address)->value, Bytes(v6.begin(), v6.end()));
}

TEST(Dynauth, CoaRequestCarriesTheNewAuthorization) {
  DynauthRequest r = disconnect_request();
  r.kind = DynauthKind::coa;
  r.authorization.push_back(Attribute{attr::FilterId, Bytes{'q', 'u', 'a', 'r'}});
  r.authorization.push_back(Attribute{attr::TunnelPrivateGroupId, encode_tagged_string(1, as_bytes("999"))});
  const Bytes wire = encode_dynauth_request(r, 9, 5);
  auto p = parse(wire);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->code, Code::CoaRequest);
  EXPECT_EQ(text(p->find(attr::FilterId)), "quar");
  ASSERT_NE(p->find(attr::TunnelPrivateGroupId), nullptr);
  EXPECT_EQ(decode_tagged_string(p->find(attr::TunnelPrivateGroupId)->value).value, (Bytes{'9', '9', '9'}));
  EXPECT_TRUE(verify_request_authenticator(wire, kSecret));
}

TEST(Dynauth, RequestsThatNameNoSessionOrMixKindsAreRefused) {
  DynauthRequest r = disconnect_request();
  r.target.acct_session_id.clear();
  r.target.calling_station_id.clear();
  r.target.user_name.clear();
  EXPECT_THROW(encode_dynauth_request(r, 1, 1), std::invalid_argument);
  r = disconnect_request();
  r.authorization.push_back(Attribute{attr::FilterId, Bytes{'x'}});
  EXPECT_THROW(encode_dynauth_request(r, 1, 1), std::invalid_argument);
}

TEST(Dynauth, AckAndNakWithErrorCause) {
  const Bytes request = encode_dynauth_request(disconnect_request(), 3, 1);
  std::optional<std::uint32_t> cause;
  EXPECT_EQ(check_dynauth_response(answer(request, Code::DisconnectAck, kSecret), request, kSecret,
                                   DynauthKind::disconnect, &cause),
            ResponseCheck::ack);
  EXPECT_FALSE(cause);
  EXPECT_EQ(check_dynauth_response(answer(request, Code::DisconnectNak, kSecret, 503), request, kSecret,
                                   DynauthKind::disconnect, &cause),
            ResponseCheck::nak);
  EXPECT_EQ(cause, 503u);
  EXPECT_STREQ(error_cause_name(503), "Session-Context-Not-Found");
}

TEST(Dynauth, AnswersThatDoNotMatchOrAreForgedAreNotTaken) {
  const Bytes request = encode_dynauth_request(disconnect_request(), 3, 1);
  // Another Identifier, or an answer to the other kind of request.
  EXPECT_EQ(check_dynauth_response(answer(request, Code::DisconnectAck, kSecret, {}, 4), request, kSecret,
                                   DynauthKind::disconnect),
            ResponseCheck::not_ours);
  EXPECT_EQ(check_dynauth_response(answer(request, Code::CoaAck, kSecret), request, kSecret, DynauthKind::disconnect),
            ResponseCheck::not_ours);
  EXPECT_EQ(check_dynauth_response(answer(request, Code::AccessAccept, kSecret), request, kSecret,
                                   DynauthKind::disconnect),
            ResponseCheck::not_ours);
  // Signed with another secret, or altered on the way.
  EXPECT_EQ(check_dynauth_response(answer(request, Code::DisconnectAck, "other"), request, kSecret,
                                   DynauthKind::disconnect),
            ResponseCheck::bad_authenticator);
  Bytes tampered = answer(request, Code::DisconnectNak, kSecret, 503);
  tampered.back() ^= 1;  // Error-Cause 503 -> 502
  EXPECT_EQ(check_dynauth_response(tampered, request, kSecret, DynauthKind::disconnect),
            ResponseCheck::bad_authenticator);
  // An answer to another request (its authenticator) does not verify against this one.
  const Bytes other_request = encode_dynauth_request(disconnect_request(), 3, 2);
  EXPECT_EQ(check_dynauth_response(answer(other_request, Code::DisconnectAck, kSecret), request, kSecret,
                                   DynauthKind::disconnect),
            ResponseCheck::bad_authenticator);
  EXPECT_EQ(check_dynauth_response(Bytes{41, 3, 0}, request, kSecret, DynauthKind::disconnect),
            ResponseCheck::malformed);
}

TEST(Dynauth, CoaAnswers) {
  DynauthRequest r = disconnect_request();
  r.kind = DynauthKind::coa;
  const Bytes request = encode_dynauth_request(r, 200, 1);
  EXPECT_EQ(check_dynauth_response(answer(request, Code::CoaAck, kSecret), request, kSecret, DynauthKind::coa),
            ResponseCheck::ack);
  std::optional<std::uint32_t> cause;
  EXPECT_EQ(check_dynauth_response(answer(request, Code::CoaNak, kSecret, 401), request, kSecret, DynauthKind::coa,
                                   &cause),
            ResponseCheck::nak);
  EXPECT_EQ(cause, 401u);
  EXPECT_EQ(check_dynauth_response(answer(request, Code::DisconnectAck, kSecret), request, kSecret, DynauthKind::coa),
            ResponseCheck::not_ours);
}

// RFC 7930 §4: a Protocol-Error answering our request (Original-Packet-Code 241.4 naming it).
Attribute original_packet_code(Code code) {
  return Attribute{attr::ExtendedType1, Bytes{ext::OriginalPacketCode, 0, 0, 0, static_cast<std::uint8_t>(code)}};
}

// RFC 7930 §4: a Protocol-Error is a response; it is verified as one (Response Authenticator
// over the request's, Message-Authenticator as for an Access-Request's reply) and carries
// the Error-Cause; its Original-Packet-Code, when present, must be the request's.
TEST(Dynauth, AProtocolErrorAnswersTheRequestWithItsErrorCause) {
  const Bytes request = encode_dynauth_request(disconnect_request(), 3, 1);
  const auto protocol_error = [&](const std::string& secret, std::optional<Code> original, std::uint8_t identifier) {
    Packet reply;
    reply.code = Code::ProtocolError;
    reply.identifier = identifier;
    reply.add_integer(attr::ErrorCause, 406);
    if (original) reply.attributes.push_back(original_packet_code(*original));
    Authenticator ra{};
    std::copy_n(request.begin() + 4, 16, ra.begin());
    return encode_reply(reply, ra, secret, true).value();
  };
  std::optional<std::uint32_t> cause;
  EXPECT_EQ(check_dynauth_response(protocol_error(kSecret, Code::DisconnectRequest, 3), request, kSecret,
                                   DynauthKind::disconnect, &cause),
            ResponseCheck::protocol_error);
  EXPECT_EQ(cause, 406u);
  cause.reset();
  EXPECT_EQ(check_dynauth_response(protocol_error(kSecret, std::nullopt, 3), request, kSecret,
                                   DynauthKind::disconnect, &cause),
            ResponseCheck::protocol_error);
  EXPECT_EQ(cause, 406u);
  // Another request's: its code, its Identifier; or signed with another secret.
  EXPECT_EQ(check_dynauth_response(protocol_error(kSecret, Code::CoaRequest, 3), request, kSecret,
                                   DynauthKind::disconnect),
            ResponseCheck::not_ours);
  EXPECT_EQ(check_dynauth_response(protocol_error(kSecret, Code::DisconnectRequest, 4), request, kSecret,
                                   DynauthKind::disconnect),
            ResponseCheck::not_ours);
  EXPECT_EQ(check_dynauth_response(protocol_error("other", Code::DisconnectRequest, 3), request, kSecret,
                                   DynauthKind::disconnect),
            ResponseCheck::bad_authenticator);
  Bytes tampered = protocol_error(kSecret, std::nullopt, 3);
  tampered.back() ^= 1;  // Error-Cause 406 -> 407
  EXPECT_EQ(check_dynauth_response(tampered, request, kSecret, DynauthKind::disconnect),
            ResponseCheck::bad_authenticator);
}

// RFC 9765: a Disconnect-Request over RADIUS/1.1 carries the Token, nothing signed, and its
// answer is matched by the Token alone.
TEST(Dynauth, Radius11RequestCarriesTheTokenAndItsAnswerIsMatchedByIt) {
  DynauthRequest r = disconnect_request();
  r.target.profile = Profile::radius_1_1;
  const Bytes wire = encode_dynauth_request(r, 0x01020304u, 1'800'000'000);
  EXPECT_EQ(wire[1], 0);  // Reserved-1
  EXPECT_EQ(Bytes(wire.begin() + 4, wire.begin() + 20), (Bytes{1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  auto p = parse(wire, Profile::radius_1_1);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->find(attr::MessageAuthenticator), nullptr);
  EXPECT_EQ(text(p->find(attr::AcctSessionId)), "sess-42");
  // No secret in play: the classic check of the same bytes fails.
  EXPECT_FALSE(verify_request_authenticator(wire, kSecret));

  const auto answer_11 = [&](Code code, std::array<std::uint8_t, 4> token, std::optional<std::uint32_t> cause = {}) {
    Packet reply;
    reply.code = code;
    if (cause) reply.add_integer(attr::ErrorCause, *cause);
    Authenticator t{};
    std::copy(token.begin(), token.end(), t.begin());
    return encode_reply(reply, t, "", false, ReplyMac::request_authenticator, Profile::radius_1_1).value();
  };
  std::optional<std::uint32_t> cause;
  EXPECT_EQ(check_dynauth_response(answer_11(Code::DisconnectAck, {1, 2, 3, 4}), wire, "", DynauthKind::disconnect,
                                   &cause, Profile::radius_1_1),
            ResponseCheck::ack);
  EXPECT_EQ(check_dynauth_response(answer_11(Code::DisconnectNak, {1, 2, 3, 4}, 503), wire, "",
                                   DynauthKind::disconnect, &cause, Profile::radius_1_1),
            ResponseCheck::nak);
  EXPECT_EQ(cause, 503u);
  // Another Token is another request's answer; so is the other kind's code.
  EXPECT_EQ(check_dynauth_response(answer_11(Code::DisconnectAck, {1, 2, 3, 5}), wire, "", DynauthKind::disconnect,
                                   nullptr, Profile::radius_1_1),
            ResponseCheck::not_ours);
  EXPECT_EQ(check_dynauth_response(answer_11(Code::CoaAck, {1, 2, 3, 4}), wire, "", DynauthKind::disconnect, nullptr,
                                   Profile::radius_1_1),
            ResponseCheck::not_ours);
  // RFC 9765 §6.1: a Protocol-Error with the Token, nothing to verify.
  cause.reset();
  EXPECT_EQ(check_dynauth_response(answer_11(Code::ProtocolError, {1, 2, 3, 4}, 501), wire, "",
                                   DynauthKind::disconnect, &cause, Profile::radius_1_1),
            ResponseCheck::protocol_error);
  EXPECT_EQ(cause, 501u);
  EXPECT_EQ(check_dynauth_response(answer_11(Code::ProtocolError, {1, 2, 3, 5}, 501), wire, "",
                                   DynauthKind::disconnect, nullptr, Profile::radius_1_1),
            ResponseCheck::not_ours);
  // A classic Identifier is one octet.
  EXPECT_THROW(encode_dynauth_request(disconnect_request(), 256, 1), std::invalid_argument);
}

}  // namespace
}  // namespace portcullis::radius
