// RFC 5176 against libfreeradius-radius 3.2.1 (the oracle): the library
// verifies (Request Authenticator, Message-Authenticator) and decodes our Disconnect- and
// CoA-Requests to the attributes we meant, and we accept the ACKs and NAKs it writes.
#include "freeradius_oracle.hpp"
#include "radius/attribute_values.hpp"
#include "radius/dynauth.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace portcullis::radius {
namespace {

const std::string kSecret = "dynauth-differential";

DynauthRequest request(DynauthKind kind) {
  DynauthRequest r;
  r.kind = kind;
  r.target.nas_name = "wlc-1";
  r.target.address = IpAddress::parse("192.0.2.10").value();
  r.target.secret = kSecret;
  r.target.nas_ip_address = std::array<std::uint8_t, 4>{192, 0, 2, 10};
  r.target.nas_identifier = "wlc-1.example";
  r.target.acct_session_id = "5A3F00C1-0001";
  r.target.calling_station_id = "02-00-00-00-00-01";
  r.target.user_name = "anonymous@example";
  if (kind == DynauthKind::coa) {
    r.authorization.push_back(Attribute{attr::FilterId, Bytes{'q', 'u', 'a', 'r', 'a', 'n', 't', 'i', 'n', 'e'}});
    r.authorization.push_back(Attribute{attr::TunnelType, encode_tagged_integer(1, kTunnelTypeVlan)});
    r.authorization.push_back(Attribute{attr::TunnelMediumType, encode_tagged_integer(1, kTunnelMediumIeee802)});
    r.authorization.push_back(Attribute{attr::TunnelPrivateGroupId, encode_tagged_string(1, as_bytes("999"))});
  }
  return r;
}

const oracle::Pair* find(const oracle::Decoded& d, const std::string& name) {
  auto it = std::find_if(d.pairs.begin(), d.pairs.end(), [&](const oracle::Pair& p) { return p.name == name; });
  return it == d.pairs.end() ? nullptr : &*it;
}

std::string text(const oracle::Pair* p) { return p ? std::string(p->value.begin(), p->value.end()) : "<absent>"; }

TEST(DynauthDifferential, TheLibraryVerifiesAndDecodesOurDisconnectRequest) {
  const Bytes wire = encode_dynauth_request(request(DynauthKind::disconnect), 17, 1'800'000'000);
  const oracle::Decoded d = oracle::decode(wire, kSecret);
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_NE(find(d, "Message-Authenticator"), nullptr);
  ASSERT_NE(find(d, "NAS-IP-Address"), nullptr);
  EXPECT_EQ(find(d, "NAS-IP-Address")->value, (Bytes{192, 0, 2, 10}));
  EXPECT_EQ(text(find(d, "NAS-Identifier")), "wlc-1.example");
  EXPECT_EQ(text(find(d, "Acct-Session-Id")), "5A3F00C1-0001");
  EXPECT_EQ(text(find(d, "Calling-Station-Id")), "02-00-00-00-00-01");
  EXPECT_EQ(text(find(d, "User-Name")), "anonymous@example");
  ASSERT_NE(find(d, "Event-Timestamp"), nullptr);
  EXPECT_EQ(find(d, "Event-Timestamp")->value, encode_integer(1'800'000'000));
  EXPECT_EQ(d.pairs.size(), 7u);  // nothing else
  // rad_verify checks the Request Authenticator and the Message-Authenticator.
  EXPECT_FALSE(oracle::decode(wire, "another-secret").ok);
  Bytes tampered = wire;
  tampered.back() ^= 1;
  EXPECT_FALSE(oracle::decode(tampered, kSecret).ok);
}

TEST(DynauthDifferential, TheLibraryDecodesOurCoaRequestWithItsVlan) {
  const Bytes wire = encode_dynauth_request(request(DynauthKind::coa), 18, 1'800'000'000);
  const oracle::Decoded d = oracle::decode(wire, kSecret);
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(text(find(d, "Filter-Id")), "quarantine");
  ASSERT_NE(find(d, "Tunnel-Type"), nullptr);
  EXPECT_EQ(find(d, "Tunnel-Type")->tag, 1);
  EXPECT_EQ(find(d, "Tunnel-Type")->value, encode_integer(kTunnelTypeVlan));
  ASSERT_NE(find(d, "Tunnel-Medium-Type"), nullptr);
  EXPECT_EQ(find(d, "Tunnel-Medium-Type")->value, encode_integer(kTunnelMediumIeee802));
  ASSERT_NE(find(d, "Tunnel-Private-Group-Id"), nullptr);
  EXPECT_EQ(find(d, "Tunnel-Private-Group-Id")->tag, 1);
  EXPECT_EQ(text(find(d, "Tunnel-Private-Group-Id")), "999");
  EXPECT_EQ(text(find(d, "Acct-Session-Id")), "5A3F00C1-0001");
}

TEST(DynauthDifferential, WeAcceptTheLibrarysAcksAndNaks) {
  for (DynauthKind kind : {DynauthKind::disconnect, DynauthKind::coa}) {
    const Bytes wire = encode_dynauth_request(request(kind), 33, 1);
    Authenticator ra{};
    std::copy_n(wire.begin() + 4, 16, ra.begin());
    const Code ack = kind == DynauthKind::disconnect ? Code::DisconnectAck : Code::CoaAck;
    const Code nak = kind == DynauthKind::disconnect ? Code::DisconnectNak : Code::CoaNak;
    for (bool with_ma : {false, true}) {
      std::vector<oracle::Item> items;
      if (with_ma) items.push_back({"Message-Authenticator", "0x00", std::nullopt, 0});
      const Bytes lib_ack = oracle::encode(ack, 33, ra, items, kSecret);
      if (with_ma) {
        // FreeRADIUS 3.2 computes it over 16 zero octets, not over the request's
        // authenticator as RFC 5176 §3.5 says: the reason dynauth.cpp accepts both.
        const Authenticator zero{};
        EXPECT_EQ(check_message_authenticator(lib_ack, kSecret, &ra), MessageAuthenticatorStatus::Invalid);
        EXPECT_EQ(check_message_authenticator(lib_ack, kSecret, &zero), MessageAuthenticatorStatus::Valid);
      }
      EXPECT_EQ(check_dynauth_response(lib_ack, wire, kSecret, kind), ResponseCheck::ack) << with_ma;
      EXPECT_EQ(check_dynauth_response(lib_ack, wire, "wrong", kind), ResponseCheck::bad_authenticator);

      items.push_back({"Error-Cause", "Session-Context-Not-Found", std::nullopt, 0});
      const Bytes lib_nak = oracle::encode(nak, 33, ra, items, kSecret);
      std::optional<std::uint32_t> cause;
      EXPECT_EQ(check_dynauth_response(lib_nak, wire, kSecret, kind, &cause), ResponseCheck::nak) << with_ma;
      EXPECT_EQ(cause, 503u);
    }
  }
}

}  // namespace
}  // namespace portcullis::radius
