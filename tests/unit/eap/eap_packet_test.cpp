// radius/eap/eap_packet: RFC 3748 §4 parse/build, and every malformed shape refused
// without reading out of bounds.
#include "radius/eap/eap_packet.hpp"

#include <gtest/gtest.h>

namespace portcullis::radius::eap {
namespace {

TEST(EapPacket, BuildsAndParsesARequest) {
  const Bytes data = {0x20};
  const Bytes wire = build_request(7, Type::tls, data);
  EXPECT_EQ(wire, (Bytes{1, 7, 0, 6, 13, 0x20}));
  ParseResult r = parse_packet(wire);
  ASSERT_TRUE(r.packet) << r.error;
  EXPECT_EQ(r.packet->code, Code::request);
  EXPECT_EQ(r.packet->identifier, 7);
  EXPECT_EQ(r.packet->type, 13);
  EXPECT_EQ(r.packet->type_data, data);
}

TEST(EapPacket, ResponseIdentityRoundTrips) {
  const std::string id = "anonymous@example.net";
  const Bytes wire = build_response(200, Type::identity,
                                    std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(id.data()), id.size()));
  ParseResult r = parse_packet(wire);
  ASSERT_TRUE(r.packet);
  EXPECT_EQ(r.packet->code, Code::response);
  EXPECT_EQ(r.packet->type, 1);
  EXPECT_EQ(std::string(r.packet->type_data.begin(), r.packet->type_data.end()), id);
}

TEST(EapPacket, SuccessAndFailureAreFourOctets) {
  EXPECT_EQ(build_success(9), (Bytes{3, 9, 0, 4}));
  EXPECT_EQ(build_failure(10), (Bytes{4, 10, 0, 4}));
  ParseResult r = parse_packet(build_failure(10));
  ASSERT_TRUE(r.packet);
  EXPECT_EQ(r.packet->code, Code::failure);
  EXPECT_TRUE(r.packet->type_data.empty());
}

TEST(EapPacket, OctetsBeyondLengthArePadding) {
  // RFC 3748 §4.1: ignored on receipt.
  const Bytes wire = {2, 5, 0, 6, 13, 0x00, 0xEE, 0xEE, 0xEE};
  ParseResult r = parse_packet(wire);
  ASSERT_TRUE(r.packet) << r.error;
  EXPECT_EQ(r.packet->type_data, (Bytes{0x00}));
}

TEST(EapPacket, RejectsMalformedPackets) {
  EXPECT_FALSE(parse_packet(Bytes{}).packet);
  EXPECT_FALSE(parse_packet(Bytes{2, 1, 0}).packet);                 // shorter than the header
  EXPECT_FALSE(parse_packet(Bytes{2, 1, 0, 9, 13, 0}).packet);       // Length beyond the data
  EXPECT_FALSE(parse_packet(Bytes{2, 1, 0, 3, 13}).packet);          // Length below the header
  EXPECT_FALSE(parse_packet(Bytes{2, 1, 0, 4}).packet);              // Response without Type
  EXPECT_FALSE(parse_packet(Bytes{3, 1, 0, 5, 0}).packet);           // Success with data
  EXPECT_FALSE(parse_packet(Bytes{5, 1, 0, 4}).packet);              // unknown Code
  ParseResult r = parse_packet(Bytes{2, 1, 0xFF, 0xFF, 13});
  EXPECT_FALSE(r.packet);
  EXPECT_NE(r.error.find("exceeds"), std::string::npos);
}

TEST(EapPacket, RefusesToBuildOversizedPackets) {
  const Bytes big(kMaxPacketSize, 0);
  EXPECT_THROW(build_request(1, Type::tls, big), std::length_error);
  const Bytes fits(kMaxPacketSize - kTypeHeaderSize, 0);
  EXPECT_EQ(build_request(1, Type::tls, fits).size(), kMaxPacketSize);
}

}  // namespace
}  // namespace portcullis::radius::eap
