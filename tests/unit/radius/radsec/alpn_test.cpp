// RFC 9765 §3.3: the server's ALPN choice for each client offer, and the Protocol-Error
// written before closing a connection without the required version.
#include "radius/radsec/alpn.hpp"

#include "radius/attribute_values.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace portcullis::radius::radsec {
namespace {

Bytes offer(std::initializer_list<std::string> names) {
  Bytes out;
  for (const std::string& n : names) {
    out.push_back(static_cast<std::uint8_t>(n.size()));
    out.insert(out.end(), n.begin(), n.end());
  }
  return out;
}

std::string chosen(std::initializer_list<std::string> names, RadiusVersions allowed, bool tls13, AlpnChoice want) {
  const Bytes o = offer(names);
  ByteView selected;
  EXPECT_EQ(choose_alpn(o, allowed, tls13, &selected), want);
  return std::string(selected.begin(), selected.end());
}

TEST(RadsecAlpn, TheHighestVersionBothAllowWins) {
  const RadiusVersions both;
  EXPECT_EQ(chosen({"radius/1.0", "radius/1.1"}, both, true, AlpnChoice::radius_1_1), "radius/1.1");
  EXPECT_EQ(chosen({"radius/1.1"}, both, true, AlpnChoice::radius_1_1), "radius/1.1");
  EXPECT_EQ(chosen({"radius/1.0"}, both, true, AlpnChoice::radius_1_0), "radius/1.0");
  // Other names are passed over.
  EXPECT_EQ(chosen({"h2", "radius/1.1"}, both, true, AlpnChoice::radius_1_1), "radius/1.1");
}

TEST(RadsecAlpn, Radius11NeedsTls13AndTheServersConsent) {
  // RFC 9765 §3.4: RADIUS/1.1 requires TLS 1.3; over 1.2 the client falls back or is refused.
  EXPECT_EQ(chosen({"radius/1.0", "radius/1.1"}, {}, false, AlpnChoice::radius_1_0), "radius/1.0");
  EXPECT_EQ(chosen({"radius/1.1"}, {}, false, AlpnChoice::refuse), "");
  // Server configured "1.0" only: a client requiring 1.1 gets the alert (table: "Alert").
  EXPECT_EQ(chosen({"radius/1.1"}, {true, false}, true, AlpnChoice::refuse), "");
  EXPECT_EQ(chosen({"radius/1.0", "radius/1.1"}, {true, false}, true, AlpnChoice::radius_1_0), "radius/1.0");
  // Server configured "1.1" only: a client offering 1.0 alone is refused.
  EXPECT_EQ(chosen({"radius/1.0"}, {false, true}, true, AlpnChoice::refuse), "");
  // No RADIUS version among the names: refused (§3.3, RFC 7301 §3.2).
  EXPECT_EQ(chosen({"h2"}, {}, true, AlpnChoice::refuse), "");
}

TEST(RadsecAlpn, AMalformedListIsRefused) {
  ByteView selected;
  const Bytes zero_length = {0};
  EXPECT_EQ(choose_alpn(zero_length, {}, true, &selected), AlpnChoice::refuse);
  const Bytes past_end = {11, 'r', 'a', 'd'};
  EXPECT_EQ(choose_alpn(past_end, {}, true, &selected), AlpnChoice::refuse);
}

TEST(RadsecAlpn, ProfileOfTheNegotiatedName) {
  EXPECT_EQ(profile_of_alpn("radius/1.1"), Profile::radius_1_1);
  EXPECT_EQ(profile_of_alpn("radius/1.0"), Profile::radius);
  EXPECT_EQ(profile_of_alpn(""), Profile::radius);
}

TEST(RadsecAlpn, ProtocolErrorHasAZeroTokenAMessageAndErrorCause406) {
  const Bytes p = protocol_error_packet("RADIUS/1.1 required");
  ASSERT_EQ(p.size(), 20u + 2 + 19 + 6);
  EXPECT_EQ(p[0], 52);
  EXPECT_EQ(std::size_t{p[2]} << 8 | p[3], p.size());
  EXPECT_EQ(Bytes(p.begin() + 1, p.begin() + 2), Bytes{0});
  EXPECT_EQ(Bytes(p.begin() + 4, p.begin() + 20), Bytes(16, 0));
  auto parsed = parse(p, Profile::radius_1_1);
  ASSERT_TRUE(parsed.ok());
  const Attribute* message = parsed->find(attr::ReplyMessage);
  ASSERT_NE(message, nullptr);
  EXPECT_EQ(std::string(message->value.begin(), message->value.end()), "RADIUS/1.1 required");
  EXPECT_EQ(parsed->integer(attr::ErrorCause), 406u);
  // RFC 9765 §6.1: the answer to a request that could not be handled echoes its Token.
  const Bytes busy = protocol_error_packet("busy", kResourcesUnavailable, 0x01020304);
  EXPECT_EQ(Bytes(busy.begin() + 4, busy.begin() + 8), (Bytes{1, 2, 3, 4}));
  EXPECT_EQ(Bytes(busy.begin() + 8, busy.begin() + 20), Bytes(12, 0));
  EXPECT_EQ(parse(busy, Profile::radius_1_1)->integer(attr::ErrorCause), 506u);
  // A long reason is cut to one attribute, never past 4096 octets.
  EXPECT_EQ(protocol_error_packet(std::string(1000, 'x')).size(), 20u + 2 + 253 + 6);
}

}  // namespace
}  // namespace portcullis::radius::radsec
