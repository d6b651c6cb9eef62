// Wire codec: parsing, malformed input, authenticators, RFC 2865 §7 examples.
#include "radius/attribute_values.hpp"
#include "radius/packet.hpp"
#include "test_bytes.hpp"

#include <gtest/gtest.h>

#include <random>

namespace portcullis::radius {
namespace {

using test::hex;
using test::pattern;

constexpr std::string_view kSecret = "xyzzy5461";

// RFC 2865 §7.1: Access-Request from NAS 192.168.1.16 port 3 for user "nemo".
const char* kRfc7_1Request =
    "01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d"
    "93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03";
// RFC 2865 §7.1: the Access-Accept (Service-Type Login, Login-Service Telnet, Login-IP-Host).
const char* kRfc7_1Accept =
    "02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00"
    "0e 06 c0 a8 01 03";

TEST(RadiusPacket, ParsesRfc2865Example) {
  const Bytes wire = hex(kRfc7_1Request);
  auto p = parse(wire);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->code, Code::AccessRequest);
  EXPECT_EQ(p->identifier, 0);
  ASSERT_EQ(p->attributes.size(), 4u);
  EXPECT_EQ(p->attributes[0], (Attribute{attr::UserName, Bytes{'n', 'e', 'm', 'o'}}));
  EXPECT_EQ(p->attributes[1].type, attr::UserPassword);
  EXPECT_EQ(decode_ipv4(p->find(attr::NasIpAddress)->value), (Ipv4Address{192, 168, 1, 16}));
  EXPECT_EQ(p->integer(attr::NasPort), 3u);
  EXPECT_EQ(check_message_authenticator(wire, kSecret), MessageAuthenticatorStatus::Absent);
}

TEST(RadiusPacket, Rfc2865ResponseAuthenticatorVectorVerifiesAndReencodes) {
  const Bytes request = hex(kRfc7_1Request);
  const Bytes accept = hex(kRfc7_1Accept);
  const Authenticator ra = parse(request)->authenticator;
  EXPECT_TRUE(verify_response_authenticator(accept, ra, kSecret));
  EXPECT_FALSE(verify_response_authenticator(accept, ra, "wrong"));

  // Rebuilding the same reply without Message-Authenticator gives the RFC's bytes.
  Packet reply;
  reply.code = Code::AccessAccept;
  reply.identifier = 0;
  reply.add_integer(attr::ServiceType, 1);
  reply.add_integer(15, 0);                                  // Login-Service = Telnet
  reply.add(14, ByteView(hex("c0 a8 01 03")));               // Login-IP-Host
  auto encoded = encode_reply(reply, ra, kSecret, /*message_authenticator=*/false);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(encoded.value(), accept);
}

TEST(RadiusPacket, TrailingOctetsPastLengthAreIgnored) {
  Bytes wire = hex(kRfc7_1Request);
  const std::size_t len = wire.size();
  wire.insert(wire.end(), {0xde, 0xad, 0xbe, 0xef});
  auto p = parse(wire);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->attributes.size(), 4u);
  EXPECT_EQ(packet_bytes(wire).size(), len);
}

TEST(RadiusPacket, MalformedInputGivesTheRightErrorKind) {
  const Bytes good = hex(kRfc7_1Request);
  EXPECT_EQ(parse(ByteView{}).error(), ParseError::Truncated);
  EXPECT_EQ(parse(ByteView(good).first(19)).error(), ParseError::Truncated);
  // Length larger than the datagram.
  EXPECT_EQ(parse(ByteView(good).first(good.size() - 1)).error(), ParseError::Truncated);
  // Length below the header size, and above 4096.
  Bytes bad = good;
  bad[2] = 0; bad[3] = 19;
  EXPECT_EQ(parse(bad).error(), ParseError::BadLength);
  Bytes big(4097, 0);
  big[0] = 1; big[2] = 0x10; big[3] = 0x01;
  EXPECT_EQ(parse(big).error(), ParseError::BadLength);
  // Attribute lengths 0, 1 and overflowing the packet.
  for (std::uint8_t alen : {0, 1, 7, 255}) {
    Bytes b = good;
    b[21] = alen;  // User-Name's length: "nemo" needs 6
    EXPECT_EQ(parse(b).error(), ParseError::BadAttribute) << int(alen);
  }
  // One octet of attribute header left at the end.
  Bytes tail = good;
  tail.push_back(0x01);
  tail[3] = static_cast<std::uint8_t>(tail.size());
  EXPECT_EQ(parse(tail).error(), ParseError::BadAttribute);
  // Message-Authenticator with a length other than 18.
  Bytes ma(20, 0);
  ma[0] = 1; ma[3] = 20 + 17;
  ma.push_back(attr::MessageAuthenticator); ma.push_back(17);
  ma.insert(ma.end(), 15, 0);
  EXPECT_EQ(parse(ma).error(), ParseError::BadAttribute);
}

TEST(RadiusPacket, ExactlyMaximumLengthParses) {
  Packet p;
  p.code = Code::AccessRequest;
  const std::size_t room = kMaxPacketLength - kHeaderLength - 18;
  const std::size_t full = room / 255;
  for (std::size_t i = 0; i < full; ++i) p.add(attr::Class, ByteView(pattern(253)));
  p.add(attr::Class, ByteView(pattern(room - full * 255 - 2)));
  auto wire = encode_request(p, kSecret);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire->size(), kMaxPacketLength);
  EXPECT_TRUE(parse(wire.value()).ok());
  p.add(attr::Class, ByteView{});
  EXPECT_EQ(encode_request(p, kSecret).error(), EncodeError::TooLarge);
}

TEST(RadiusPacket, GarbageNeverCrashes) {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng() % 300);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (b.size() >= 4 && (rng() & 1)) {  // make the header plausible half the time
      b[2] = static_cast<std::uint8_t>(b.size() >> 8);
      b[3] = static_cast<std::uint8_t>(b.size());
    }
    auto p = parse(b);
    if (p.ok()) {
      (void)check_message_authenticator(b, kSecret, &p->authenticator);
      (void)join_eap_message(p.value());
    }
  }
}

TEST(RadiusPacket, MessageAuthenticatorOnRequests) {
  Packet req;
  req.code = Code::AccessRequest;
  req.identifier = 42;
  req.authenticator = random_authenticator();
  req.add(attr::UserName, "anonymous@example");
  add_eap_message(req, pattern(300));
  auto wire = encode_request(req, "s3cret");
  ASSERT_TRUE(wire.ok());
  auto parsed = parse(wire.value());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->attributes.front().type, attr::MessageAuthenticator);  // BlastRADIUS
  EXPECT_EQ(parsed->authenticator, req.authenticator);
  EXPECT_EQ(check_message_authenticator(wire.value(), "s3cret"), MessageAuthenticatorStatus::Valid);
  EXPECT_EQ(check_message_authenticator(wire.value(), "wrong"), MessageAuthenticatorStatus::Invalid);
  // Any flipped bit outside the MAC itself breaks it.
  for (std::size_t i : {std::size_t{1}, std::size_t{5}, std::size_t{45}, wire->size() - 1}) {
    Bytes t = wire.value();
    t[i] ^= 0x01;
    EXPECT_EQ(check_message_authenticator(t, "s3cret"), MessageAuthenticatorStatus::Invalid) << i;
  }
  // Two Message-Authenticators are invalid even if one is right (RFC 3579 §3.2).
  Bytes twice = wire.value();
  twice.insert(twice.end(), twice.begin() + 20, twice.begin() + 38);
  twice[2] = static_cast<std::uint8_t>(twice.size() >> 8);
  twice[3] = static_cast<std::uint8_t>(twice.size());
  EXPECT_EQ(check_message_authenticator(twice, "s3cret"), MessageAuthenticatorStatus::Invalid);
}

TEST(RadiusPacket, StatusServerAlwaysCarriesMessageAuthenticator) {
  Packet req;
  req.code = Code::StatusServer;
  req.authenticator = random_authenticator();
  auto wire = encode_request(req, "s", /*message_authenticator=*/false);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(check_message_authenticator(wire.value(), "s"), MessageAuthenticatorStatus::Valid);
}

TEST(RadiusPacket, RepliesPutMessageAuthenticatorFirstAndVerify) {
  const Authenticator ra = random_authenticator();
  Packet reply;
  reply.code = Code::AccessChallenge;
  reply.identifier = 7;
  reply.add(attr::State, ByteView(pattern(16)));
  add_eap_message(reply, pattern(1100));
  reply.add(attr::ProxyState, "ps");
  auto wire = encode_reply(reply, ra, "secret");
  ASSERT_TRUE(wire.ok());
  auto parsed = parse(wire.value());
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->attributes.size(), reply.attributes.size() + 1);
  EXPECT_EQ(parsed->attributes[0].type, attr::MessageAuthenticator);
  EXPECT_TRUE(std::equal(reply.attributes.begin(), reply.attributes.end(), parsed->attributes.begin() + 1));
  EXPECT_EQ(check_message_authenticator(wire.value(), "secret", &ra), MessageAuthenticatorStatus::Valid);
  EXPECT_TRUE(verify_response_authenticator(wire.value(), ra, "secret"));
  Authenticator other = ra;
  other[0] ^= 1;
  EXPECT_EQ(check_message_authenticator(wire.value(), "secret", &other), MessageAuthenticatorStatus::Invalid);
  EXPECT_FALSE(verify_response_authenticator(wire.value(), other, "secret"));
  EXPECT_THROW((void)check_message_authenticator(wire.value(), "secret"), std::invalid_argument);
}

TEST(RadiusPacket, HashedRequestAuthenticatorsForAccountingAndDynamicAuthorization) {
  for (Code c : {Code::AccountingRequest, Code::CoaRequest, Code::DisconnectRequest}) {
    Packet req;
    req.code = c;
    req.identifier = 9;
    req.add_integer(attr::AcctStatusType, 1);
    req.add(attr::AcctSessionId, "abc-123");
    for (bool ma : {false, true}) {
      auto wire = encode_request(req, "acct", ma);
      ASSERT_TRUE(wire.ok());
      EXPECT_TRUE(verify_request_authenticator(wire.value(), "acct"));
      EXPECT_FALSE(verify_request_authenticator(wire.value(), "nope"));
      EXPECT_EQ(check_message_authenticator(wire.value(), "acct"),
                ma ? MessageAuthenticatorStatus::Valid : MessageAuthenticatorStatus::Absent);
      Bytes t = wire.value();
      t.back() ^= 0x80;
      EXPECT_FALSE(verify_request_authenticator(t, "acct"));
    }
  }
}

TEST(RadiusPacket, EncoderRejectsMisuse) {
  Packet p;
  p.code = Code::AccessAccept;
  EXPECT_THROW((void)encode_request(p, "s"), std::invalid_argument);
  p.code = Code::AccessRequest;
  EXPECT_THROW((void)encode_reply(p, Authenticator{}, "s"), std::invalid_argument);
  // The zero-authenticator Message-Authenticator is the Accounting-Response's alone.
  Packet accept;
  accept.code = Code::AccessAccept;
  EXPECT_THROW((void)encode_reply(accept, Authenticator{}, "s", true, ReplyMac::zero_authenticator),
               std::invalid_argument);
  accept.code = Code::AccountingResponse;
  EXPECT_TRUE(encode_reply(accept, Authenticator{}, "s", true, ReplyMac::zero_authenticator).ok());
  p.attributes.push_back(Attribute{attr::MessageAuthenticator, Bytes(16)});
  EXPECT_THROW((void)encode_request(p, "s"), std::invalid_argument);
  p.attributes.assign(1, Attribute{attr::Class, Bytes(254)});
  EXPECT_THROW((void)encode_request(p, "s"), std::length_error);
  EXPECT_THROW(p.add(attr::Class, ByteView(pattern(254))), std::length_error);
}

TEST(RadiusPacket, ReplyOverflowIsAnErrorNotATruncation) {
  Packet reply;
  reply.code = Code::AccessChallenge;
  add_eap_message(reply, pattern(4096));
  EXPECT_EQ(encode_reply(reply, Authenticator{}, "s").error(), EncodeError::TooLarge);
  EXPECT_STREQ(to_string(EncodeError::TooLarge), "packet larger than 4096 octets");
  EXPECT_STREQ(to_string(ParseError::BadAttribute), "bad attribute");
}

// RFC 9765 §4.1: Code, Reserved-1, Length, Token, Reserved-2; no MD5 anywhere.
TEST(RadiusPacket, Radius11RequestCarriesTheTokenAndNothingSigned) {
  Packet request;
  request.code = Code::StatusServer;
  request.identifier = 42;
  request.authenticator = {0xde, 0xad, 0xbe, 0xef, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  request.add(attr::NasIdentifier, "wlc-1");
  auto wire = encode_request(request, kSecret, true, Profile::radius_1_1);
  ASSERT_TRUE(wire.ok());
  // Reserved-1 zero, the Token, twelve zero octets, and no Message-Authenticator even for
  // Status-Server (RFC 9765 §5.2, §6.2).
  EXPECT_EQ(wire.value(), hex("0c 00 00 1b de ad be ef 00 00 00 00 00 00 00 00 00 00 00 00 20 07 77 6c 63 2d 31"));
  // The classic encoding of the same packet differs: it is signed.
  EXPECT_NE(encode_request(request, kSecret).value(), wire.value());
}

TEST(RadiusPacket, Radius11ReplyEchoesTheTokenWithoutSigning) {
  Packet reply;
  reply.code = Code::AccessAccept;
  reply.identifier = 7;
  reply.add(attr::ReplyMessage, "ok");
  const Authenticator token{1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  auto wire = encode_reply(reply, token, kSecret, true, ReplyMac::request_authenticator, Profile::radius_1_1);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire.value(), hex("02 00 00 18 01 02 03 04 00 00 00 00 00 00 00 00 00 00 00 00 12 04 6f 6b"));
  // Nor for an Accounting-Response (no zero_authenticator MAC either).
  reply.code = Code::AccountingResponse;
  reply.attributes.clear();
  wire = encode_reply(reply, token, kSecret, true, ReplyMac::zero_authenticator, Profile::radius_1_1);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire.value(), hex("05 00 00 14 01 02 03 04 00 00 00 00 00 00 00 00 00 00 00 00"));
}

TEST(RadiusPacket, Radius11ParseIgnoresReservedFieldsAndDiscardsMessageAuthenticator) {
  // Reserved-1 = 0x55 and Reserved-2 non-zero (ignored, RFC 9765 §4.1), a
  // Message-Authenticator of a wrong length (RFC 9765 §5.2: an invalid attribute, discarded,
  // the packet still processed), then User-Name.
  const Bytes wire = hex("01 55 00 20 0a 0b 0c 0d 11 11 11 11 11 11 11 11 11 11 11 11 50 06 01 02 03 04"
                         "01 06 6e 65 6d 6f");
  auto p = parse(wire, Profile::radius_1_1);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->identifier, 0);
  EXPECT_EQ(p->authenticator, (Authenticator{0x0a, 0x0b, 0x0c, 0x0d}));
  ASSERT_EQ(p->attributes.size(), 1u);
  EXPECT_EQ(p->attributes[0], (Attribute{attr::UserName, Bytes{'n', 'e', 'm', 'o'}}));
  // The classic profile refuses the same bytes (RFC 2869 §5.14: Length 18).
  EXPECT_EQ(parse(wire).error(), ParseError::BadAttribute);
  // A well-formed Message-Authenticator is discarded too.
  const Bytes with_ma = hex("01 00 00 26 0a 0b 0c 0d 00 00 00 00 00 00 00 00 00 00 00 00 50 12"
                            "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
  auto q = parse(with_ma, Profile::radius_1_1);
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->attributes.empty());
}

TEST(RadiusPacket, RandomAuthenticatorsDiffer) {
  EXPECT_NE(random_authenticator(), random_authenticator());
}

}  // namespace
}  // namespace portcullis::radius
