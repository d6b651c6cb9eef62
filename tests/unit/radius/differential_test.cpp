// Differential tests against libfreeradius-radius 3.2.1 (the oracle): packets
// our encoder writes decode identically with the library, and packets the library
// writes decode identically with ours, authenticators and MPPE keys included.
#include "freeradius_oracle.hpp"
#include "radius/attribute_values.hpp"
#include "radius/dictionary.hpp"
#include "radius/mppe.hpp"
#include "test_bytes.hpp"

#include <gtest/gtest.h>

namespace portcullis::radius {
namespace {

using oracle::Pair;
using test::pattern;

const std::string kSecret = "differential-secret";

// Our decoding of a packet in the library's terms: one entry per (sub-)attribute, tags
// split off, MPPE keys decrypted, consecutive EAP-Messages joined (RFC 3579 §3.1),
// Message-Authenticator left out (both sides verify it separately).
std::vector<Pair> ours(const Packet& p, const Authenticator* request_authenticator) {
  const Dictionary& dict = Dictionary::load();
  std::vector<Pair> out;
  auto push = [&](std::uint32_t vendor, std::uint32_t type, Bytes value) {
    Pair pair;
    pair.vendor = vendor;
    pair.type = type;
    const auto info = dict.find(vendor, type);
    pair.name = info ? info->name : dict.name_of(vendor, type);
    if (info && info->has_tag) {
      if (info->data_type == DataType::Integer) {
        const auto t = decode_tagged_integer(value);
        if (!t) throw std::runtime_error("bad tagged integer");
        pair.tag = t->tag;
        value = encode_integer(t->value);
      } else {
        TaggedString t = decode_tagged_string(value);
        pair.tag = t.tag;
        value = std::move(t.value);
      }
    }
    if (vendor == vendor::Microsoft && (type == ms::MppeRecvKey || type == ms::MppeSendKey)) {
      auto key = mppe_decrypt(value, kSecret, *request_authenticator);
      if (!key) throw std::runtime_error("MPPE decrypt failed");
      value = std::move(*key);
    }
    pair.value = std::move(value);
    out.push_back(std::move(pair));
  };
  bool eap_done = false;
  for (const Attribute& a : p.attributes) {
    if (a.type == attr::MessageAuthenticator) continue;
    if (a.type == attr::EapMessage) {
      if (eap_done) continue;
      const JoinedEap j = join_eap_message(p);
      EXPECT_EQ(j.status, JoinedEap::Status::Joined);
      push(0, attr::EapMessage, j.eap);
      eap_done = true;
      continue;
    }
    if (a.type == attr::VendorSpecific) {
      const auto subs = decode_vendor_specific(a.value);
      if (!subs) throw std::runtime_error("bad VSA");
      for (const VendorAttribute& s : *subs) push(s.vendor, s.type, s.value);
      continue;
    }
    push(0, a.type, a.value);
  }
  return out;
}

std::vector<Pair> without_message_authenticator(std::vector<Pair> pairs) {
  std::erase_if(pairs, [](const Pair& p) { return p.vendor == 0 && p.type == attr::MessageAuthenticator; });
  return pairs;
}

Bytes msk_half(std::uint8_t seed) { return pattern(32, seed); }

// An EAP-TLS style Access-Accept: everything we put into one.
Packet our_accept(const Authenticator& ra, std::size_t eap_size) {
  Packet reply;
  reply.code = Code::AccessAccept;
  reply.identifier = 99;
  add_eap_message(reply, eap_size == 4 ? Bytes{3, 5, 0, 4} : pattern(eap_size));
  add_mppe_keys(reply, msk_half(1), msk_half(2), kSecret, ra);
  reply.add(attr::TunnelType, encode_tagged_integer(1, kTunnelTypeVlan));
  reply.add(attr::TunnelMediumType, encode_tagged_integer(1, kTunnelMediumIeee802));
  reply.add(attr::TunnelPrivateGroupId, encode_tagged_string(1, as_bytes("120")));
  reply.add_integer(attr::SessionTimeout, 3600);
  reply.add(attr::Class, ByteView(pattern(20, 0x33)));
  reply.add(attr::FilterId, "employees");
  reply.add_vendor(14823, 1, as_bytes("employee"));      // Aruba-User-Role
  reply.add_vendor(9, 1, as_bytes("shell:priv-lvl=15")); // Cisco-AVPair
  reply.add(attr::ProxyState, "proxy-1");
  return reply;
}

TEST(RadiusDifferential, OurAccessAcceptDecodesIdenticallyWithTheLibrary) {
  for (std::size_t eap : {std::size_t{4}, std::size_t{1500}}) {
    const Authenticator ra = random_authenticator();
    const Packet reply = our_accept(ra, eap);
    auto wire = encode_reply(reply, ra, kSecret);
    ASSERT_TRUE(wire.ok());
    const oracle::Decoded lib = oracle::decode(wire.value(), kSecret, &ra);
    ASSERT_TRUE(lib.ok) << lib.error;
    EXPECT_EQ(without_message_authenticator(lib.pairs), ours(reply, &ra));
    // The library also sees the keys in the clear after its own decryption.
    bool saw_recv = false;
    for (const Pair& p : lib.pairs)
      if (p.vendor == vendor::Microsoft && p.type == ms::MppeRecvKey) saw_recv = p.value == msk_half(1);
    EXPECT_TRUE(saw_recv);
  }
}

TEST(RadiusDifferential, OurAccessChallengeWithALargeEapMessage) {
  const Authenticator ra = random_authenticator();
  Packet reply;
  reply.code = Code::AccessChallenge;
  reply.identifier = 3;
  add_eap_message(reply, pattern(3000, 5));
  reply.add(attr::State, ByteView(random_authenticator()));
  auto wire = encode_reply(reply, ra, kSecret);
  ASSERT_TRUE(wire.ok());
  const oracle::Decoded lib = oracle::decode(wire.value(), kSecret, &ra);
  ASSERT_TRUE(lib.ok) << lib.error;
  EXPECT_EQ(without_message_authenticator(lib.pairs), ours(reply, &ra));
}

TEST(RadiusDifferential, TheLibraryRejectsOurPacketWhenTamperedOrWithAnotherSecret) {
  const Authenticator ra = random_authenticator();
  auto wire = encode_reply(our_accept(ra, 4), ra, kSecret);
  ASSERT_TRUE(wire.ok());
  EXPECT_FALSE(oracle::decode(wire.value(), "another-secret", &ra).ok);
  Bytes tampered = wire.value();
  tampered[tampered.size() - 1] ^= 1;
  EXPECT_FALSE(oracle::decode(tampered, kSecret, &ra).ok);
}

// BlastRADIUS: the Accounting-Response carries Message-Authenticator, and the library
// (what a FreeRADIUS-based NAS or proxy runs) accepts it; the RFC 3579 §3.2 computation
// over the Request Authenticator it would refuse, so the NAS would retransmit forever.
TEST(RadiusDifferential, OurAccountingResponseWithMessageAuthenticatorPassesTheLibrary) {
  const Authenticator ra = random_authenticator();
  Packet reply;
  reply.code = Code::AccountingResponse;
  reply.identifier = 9;
  reply.add(attr::ProxyState, Bytes{0x70, 0x73});
  auto wire = encode_reply(reply, ra, kSecret, true, ReplyMac::zero_authenticator);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire.value()[kHeaderLength], attr::MessageAuthenticator);
  EXPECT_TRUE(verify_response_authenticator(wire.value(), ra, kSecret));
  const oracle::Decoded lib = oracle::decode(wire.value(), kSecret, &ra);
  ASSERT_TRUE(lib.ok) << lib.error;
  EXPECT_EQ(without_message_authenticator(lib.pairs), ours(reply, &ra));
  Bytes tampered = wire.value();
  tampered[kHeaderLength + 2] ^= 1;
  EXPECT_FALSE(oracle::decode(tampered, kSecret, &ra).ok);
  EXPECT_FALSE(oracle::decode(encode_reply(reply, ra, kSecret).value(), kSecret, &ra).ok);
}

std::vector<oracle::Item> library_accept_items(std::size_t eap_size) {
  return {
      {"Message-Authenticator", "0x00", std::nullopt, 0},
      {"EAP-Message", std::nullopt, eap_size == 4 ? Bytes{3, 5, 0, 4} : pattern(eap_size, 7), 0},
      {"MS-MPPE-Recv-Key", std::nullopt, msk_half(11), 0},
      {"MS-MPPE-Send-Key", std::nullopt, msk_half(12), 0},
      {"Tunnel-Type", "VLAN", std::nullopt, 1},
      {"Tunnel-Medium-Type", "IEEE-802", std::nullopt, 1},
      {"Tunnel-Private-Group-Id", "120", std::nullopt, 1},
      {"Session-Timeout", "3600", std::nullopt, 0},
      {"Class", "0x0102030405", std::nullopt, 0},
      {"Aruba-User-Role", "employee", std::nullopt, 0},
      {"Cisco-AVPair", "shell:priv-lvl=15", std::nullopt, 0},
      {"Framed-IP-Address", "10.20.30.40", std::nullopt, 0},
      {"Proxy-State", "0x70733031", std::nullopt, 0},
  };
}

TEST(RadiusDifferential, LibraryRepliesDecodeIdenticallyWithOurs) {
  for (Code code : {Code::AccessAccept, Code::AccessChallenge}) {
    for (std::size_t eap : {std::size_t{4}, std::size_t{253}, std::size_t{254}, std::size_t{3000}}) {
      const Authenticator ra = random_authenticator();
      const Bytes wire = oracle::encode(code, 42, ra, library_accept_items(eap), kSecret);
      ASSERT_LT(wire.size(), kMaxPacketLength);
      auto p = parse(wire);
      ASSERT_TRUE(p.ok()) << to_string(p.error());
      EXPECT_EQ(p->code, code);
      EXPECT_EQ(p->identifier, 42);
      EXPECT_EQ(check_message_authenticator(wire, kSecret, &ra), MessageAuthenticatorStatus::Valid);
      EXPECT_TRUE(verify_response_authenticator(wire, ra, kSecret));
      EXPECT_EQ(mppe_decrypt(*p->find_vendor(vendor::Microsoft, ms::MppeRecvKey), kSecret, ra), msk_half(11));
      EXPECT_EQ(mppe_decrypt(*p->find_vendor(vendor::Microsoft, ms::MppeSendKey), kSecret, ra), msk_half(12));
      EXPECT_EQ(join_eap_message(p.value()).eap, eap == 4 ? Bytes({3, 5, 0, 4}) : pattern(eap, 7));
      EXPECT_EQ(decode_tagged_integer(p->find(attr::TunnelType)->value), (TaggedInteger{1, kTunnelTypeVlan}));
      // And attribute for attribute, the library's own decoding agrees with ours.
      const oracle::Decoded lib = oracle::decode(wire, kSecret, &ra);
      ASSERT_TRUE(lib.ok) << lib.error;
      EXPECT_EQ(without_message_authenticator(lib.pairs), ours(p.value(), &ra));
    }
  }
}

TEST(RadiusDifferential, AccessRequestsBothWays) {
  const Authenticator ra = random_authenticator();
  const Bytes lib = oracle::encode(Code::AccessRequest, 5, ra,
                                   {{"User-Name", "anonymous@example", std::nullopt, 0},
                                    {"EAP-Message", std::nullopt, pattern(600, 2), 0},
                                    {"Calling-Station-Id", "02-00-00-00-00-01", std::nullopt, 0},
                                    {"Message-Authenticator", "0x00", std::nullopt, 0}},
                                   kSecret);
  auto p = parse(lib);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->authenticator, ra);
  EXPECT_EQ(check_message_authenticator(lib, kSecret), MessageAuthenticatorStatus::Valid);
  EXPECT_EQ(check_message_authenticator(lib, "wrong"), MessageAuthenticatorStatus::Invalid);
  EXPECT_EQ(join_eap_message(p.value()).eap, pattern(600, 2));

  Packet req;
  req.code = Code::AccessRequest;
  req.identifier = 6;
  req.authenticator = ra;
  req.add(attr::UserName, "anonymous@example");
  add_eap_message(req, pattern(600, 2));
  req.add_integer(attr::FramedMtu, 1400);
  req.add(attr::NasIpAddress, ByteView(Bytes{127, 0, 0, 1}));
  auto wire = encode_request(req, kSecret);
  ASSERT_TRUE(wire.ok());
  const oracle::Decoded d = oracle::decode(wire.value(), kSecret);
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(without_message_authenticator(d.pairs), ours(req, nullptr));
  Bytes bad = wire.value();
  bad[40] ^= 1;
  EXPECT_FALSE(oracle::decode(bad, kSecret).ok);
}

TEST(RadiusDifferential, AccountingCoaAndDisconnectRequestsBothWays) {
  for (Code code : {Code::AccountingRequest, Code::CoaRequest, Code::DisconnectRequest}) {
    for (bool with_ma : {false, true}) {
      std::vector<oracle::Item> items{{"Acct-Session-Id", "sess-1", std::nullopt, 0},
                                      {"Calling-Station-Id", "02-00-00-00-00-01", std::nullopt, 0},
                                      {"User-Name", "device-1", std::nullopt, 0}};
      if (code == Code::AccountingRequest) items.push_back({"Acct-Status-Type", "Start", std::nullopt, 0});
      if (with_ma) items.insert(items.begin(), {"Message-Authenticator", "0x00", std::nullopt, 0});
      const Bytes lib = oracle::encode(code, 11, Authenticator{}, items, kSecret);
      EXPECT_TRUE(verify_request_authenticator(lib, kSecret)) << int(code);
      EXPECT_FALSE(verify_request_authenticator(lib, "wrong")) << int(code);
      EXPECT_EQ(check_message_authenticator(lib, kSecret),
                with_ma ? MessageAuthenticatorStatus::Valid : MessageAuthenticatorStatus::Absent)
          << int(code);

      Packet req;
      req.code = code;
      req.identifier = 12;
      req.add(attr::AcctSessionId, "sess-1");
      req.add(attr::CallingStationId, "02-00-00-00-00-01");
      req.add(attr::UserName, "device-1");
      if (code == Code::AccountingRequest) req.add_integer(attr::AcctStatusType, 1);
      auto wire = encode_request(req, kSecret, with_ma);
      ASSERT_TRUE(wire.ok());
      const oracle::Decoded d = oracle::decode(wire.value(), kSecret);
      ASSERT_TRUE(d.ok) << int(code) << " " << with_ma << " " << d.error;
      EXPECT_EQ(without_message_authenticator(d.pairs), ours(req, nullptr));
      EXPECT_FALSE(oracle::decode(wire.value(), "wrong").ok) << int(code);
    }
  }
}

}  // namespace
}  // namespace portcullis::radius
