// RFC 2548 §2.4.2/§2.4.3 MPPE key salt encryption.
#include "radius/attribute_values.hpp"
#include "radius/mppe.hpp"
#include "test_bytes.hpp"

#include <gtest/gtest.h>

#include <set>

namespace portcullis::radius {
namespace {

using test::pattern;

TEST(RadiusMppe, RoundTripsAndLayout) {
  const Authenticator ra = random_authenticator();
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{32},
                        std::size_t{64}, kMaxMppeKeyLength}) {
    const Bytes key = pattern(n, 9);
    const Bytes enc = mppe_encrypt(key, 0x8123, "secret", ra);
    EXPECT_EQ(enc[0], 0x81);
    EXPECT_EQ(enc[1], 0x23);
    EXPECT_EQ((enc.size() - 2) % 16, 0u);
    EXPECT_EQ(enc.size(), 2 + (1 + n + 15) / 16 * 16);
    EXPECT_EQ(mppe_decrypt(enc, "secret", ra), key) << n;
    // Wrong secret: not the key. (For keys of a few octets a wrong key stream can hit the
    // right length octet and bytes by chance, 2^-8 per octet, so only check longer ones.)
    if (n >= 4) {
      EXPECT_NE(mppe_decrypt(enc, "other", ra), std::optional<Bytes>(key)) << n;
    }
  }
  EXPECT_THROW(mppe_encrypt(pattern(240), 0x8000, "s", ra), std::invalid_argument);
  EXPECT_THROW(mppe_encrypt(pattern(32), 0x7fff, "s", ra), std::invalid_argument);
}

// Known answer computed independently from the RFC 2548 §2.4.2 construction:
// b1 = MD5(secret || RA || salt), c1 = p1 XOR b1, b2 = MD5(secret || c1), c2 = p2 XOR b2.
TEST(RadiusMppe, MatchesTheRfcConstruction) {
  const Authenticator ra = test::authenticator_from("00112233445566778899aabbccddeeff");
  const Bytes key = pattern(32, 0x40);
  const std::string_view secret = "testing123";
  const std::uint8_t salt[2] = {0x80, 0x01};
  Bytes plain{32};
  plain.insert(plain.end(), key.begin(), key.end());
  plain.resize(48, 0);
  Bytes expected{0x80, 0x01};
  Digest16 b = md5({as_bytes(secret), ra, salt});
  for (std::size_t blk = 0; blk < 3; ++blk) {
    Bytes c(16);
    for (std::size_t i = 0; i < 16; ++i) c[i] = static_cast<std::uint8_t>(plain[blk * 16 + i] ^ b[i]);
    expected.insert(expected.end(), c.begin(), c.end());
    b = md5({as_bytes(secret), c});
  }
  EXPECT_EQ(mppe_encrypt(key, 0x8001, secret, ra), expected);
}

TEST(RadiusMppe, MalformedCiphertextIsRejected) {
  const Authenticator ra{};
  EXPECT_FALSE(mppe_decrypt(Bytes{}, "s", ra).has_value());
  EXPECT_FALSE(mppe_decrypt(Bytes(17, 0x80), "s", ra).has_value());
  EXPECT_FALSE(mppe_decrypt(Bytes(19, 0x80), "s", ra).has_value());
  Bytes no_top_bit = mppe_encrypt(pattern(32), 0x8001, "s", ra);
  no_top_bit[0] = 0x00;
  EXPECT_FALSE(mppe_decrypt(no_top_bit, "s", ra).has_value());
  // A length octet past the plaintext: encrypt a 15-octet key, then claim 200.
  Bytes enc = mppe_encrypt(pattern(15), 0x8001, "s", ra);
  enc[2] ^= static_cast<std::uint8_t>(15 ^ 200);
  EXPECT_FALSE(mppe_decrypt(enc, "s", ra).has_value());
}

TEST(RadiusMppe, SaltsAreDistinctWithTopBitSet) {
  const auto salts = random_mppe_salts(2000);
  std::set<std::uint16_t> seen;
  for (std::uint16_t s : salts) {
    EXPECT_NE(s & 0x8000, 0);
    EXPECT_TRUE(seen.insert(s).second);
  }
  const std::vector<std::uint16_t> taken{0x8001, 0x8002};
  for (std::uint16_t s : random_mppe_salts(500, taken)) {
    EXPECT_NE(s, 0x8001);
    EXPECT_NE(s, 0x8002);
  }
}

TEST(RadiusMppe, AddMppeKeysToAReply) {
  const Authenticator ra = random_authenticator();
  const Bytes msk = pattern(64, 0x11);
  const ByteView recv = ByteView(msk).first(32);   // MSK[0..31], the PMK
  const ByteView send = ByteView(msk).subspan(32);  // MSK[32..63]
  Packet reply;
  reply.code = Code::AccessAccept;
  add_mppe_keys(reply, recv, send, "secret", ra);
  add_mppe_keys(reply, recv, send, "secret", ra);  // salts stay unique across both pairs
  std::set<std::uint16_t> salts;
  for (const Attribute& a : reply.attributes) {
    const auto subs = decode_vendor_specific(a.value);
    ASSERT_TRUE(subs.has_value());
    for (const VendorAttribute& s : *subs) {
      EXPECT_EQ(s.vendor, vendor::Microsoft);
      EXPECT_TRUE(salts.insert(static_cast<std::uint16_t>(s.value[0] << 8 | s.value[1])).second);
    }
  }
  EXPECT_EQ(salts.size(), 4u);
  auto wire = encode_reply(reply, ra, "secret");
  ASSERT_TRUE(wire.ok());
  auto back = parse(wire.value());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(mppe_decrypt(*back->find_vendor(vendor::Microsoft, ms::MppeRecvKey), "secret", ra),
            Bytes(recv.begin(), recv.end()));
  EXPECT_EQ(mppe_decrypt(*back->find_vendor(vendor::Microsoft, ms::MppeSendKey), "secret", ra),
            Bytes(send.begin(), send.end()));
}

// RFC 9765 §5.1.4: over RADIUS/1.1 the MPPE keys are plain 'string' attributes.
TEST(RadiusMppe, Radius11SendsTheKeysInClear) {
  const Bytes msk = pattern(64, 0x21);
  const ByteView recv = ByteView(msk).first(32);
  const ByteView send = ByteView(msk).subspan(32);
  Packet reply;
  reply.code = Code::AccessAccept;
  const Authenticator token{5, 6, 7, 8};
  add_mppe_keys(reply, recv, send, "unused", token, Profile::radius_1_1);
  auto wire = encode_reply(reply, token, "unused", true, ReplyMac::request_authenticator, Profile::radius_1_1);
  ASSERT_TRUE(wire.ok());
  auto back = parse(wire.value(), Profile::radius_1_1);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->find_vendor(vendor::Microsoft, ms::MppeRecvKey), Bytes(recv.begin(), recv.end()));
  EXPECT_EQ(back->find_vendor(vendor::Microsoft, ms::MppeSendKey), Bytes(send.begin(), send.end()));
}

}  // namespace
}  // namespace portcullis::radius
