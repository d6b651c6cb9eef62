#include "radius/radsec/framing.hpp"

#include <gtest/gtest.h>

namespace portcullis::radius::radsec {
namespace {

Bytes packet(std::uint8_t id, std::size_t length) {
  Bytes p(length, 0xab);
  p[0] = 1;
  p[1] = id;
  p[2] = static_cast<std::uint8_t>(length >> 8);
  p[3] = static_cast<std::uint8_t>(length & 0xff);
  return p;
}

TEST(StreamFramer, SplitsPacketsThatArriveTogetherAndInPieces) {
  const Bytes a = packet(1, 20), b = packet(2, 300), c = packet(3, 4096);
  Bytes stream = a;
  stream.insert(stream.end(), b.begin(), b.end());
  stream.insert(stream.end(), c.begin(), c.end());
  StreamFramer framer;
  std::vector<Bytes> out;
  // One octet at a time, the worst a TCP stream can do, then the rest in one read.
  for (std::size_t i = 0; i < 25; ++i) {
    framer.feed(ByteView(&stream[i], 1));
    Bytes p;
    while (framer.next(p) == StreamFramer::Status::packet) out.push_back(p);
  }
  framer.feed(ByteView(stream.data() + 25, stream.size() - 25));
  Bytes p;
  while (framer.next(p) == StreamFramer::Status::packet) out.push_back(p);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], a);
  EXPECT_EQ(out[1], b);
  EXPECT_EQ(out[2], c);
  EXPECT_EQ(framer.buffered(), 0u);
  EXPECT_EQ(framer.next(p), StreamFramer::Status::need_more);
}

TEST(StreamFramer, HalfAPacketWaits) {
  const Bytes a = packet(7, 100);
  StreamFramer framer;
  framer.feed(ByteView(a.data(), 99));
  Bytes p;
  EXPECT_EQ(framer.next(p), StreamFramer::Status::need_more);
  framer.feed(ByteView(a.data() + 99, 1));
  EXPECT_EQ(framer.next(p), StreamFramer::Status::packet);
  EXPECT_EQ(p, a);
}

TEST(StreamFramer, ALengthOutsideTheRadiusLimitsBreaksTheStreamForGood) {
  for (std::size_t bad : {0u, 19u, 4097u, 65535u}) {
    Bytes p = packet(1, 20);
    p[2] = static_cast<std::uint8_t>(bad >> 8);
    p[3] = static_cast<std::uint8_t>(bad & 0xff);
    StreamFramer framer;
    framer.feed(p);
    const Bytes good = packet(2, 20);
    framer.feed(good);
    Bytes out;
    EXPECT_EQ(framer.next(out), StreamFramer::Status::bad_length) << bad;
    EXPECT_EQ(framer.next(out), StreamFramer::Status::bad_length) << bad;
  }
}

}  // namespace
}  // namespace portcullis::radius::radsec
