// radius/eap/tls_fragments: RFC 5216 §2.1.5 / §3.1 framing, both directions, the
// reassembly cap and peers that lie about lengths.
#include "radius/eap/tls_fragments.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

namespace portcullis::radius::eap {
namespace {

using Kind = TlsFragments::Event::Kind;

Bytes pattern(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return b;
}

struct Logged {
  std::vector<std::string> lines;
  LogSink sink() {
    return [this](std::string_view l) { lines.emplace_back(l); };
  }
};

TEST(TlsFrame, ParsesFlagsLengthAndData) {
  const Bytes wire = {0xC0, 0x00, 0x00, 0x01, 0x00, 0xAA, 0xBB};
  TlsFrameParse p = parse_tls_frame(wire);
  ASSERT_TRUE(p.frame) << p.error;
  EXPECT_TRUE(p.frame->more());
  EXPECT_EQ(p.frame->message_length, 256u);
  EXPECT_EQ(Bytes(p.frame->data.begin(), p.frame->data.end()), (Bytes{0xAA, 0xBB}));
  EXPECT_EQ(build_tls_frame(kTlsFlagMore, 256u, Bytes{0xAA, 0xBB}), wire);
}

TEST(TlsFrame, RejectsTruncatedLengthAndEmptyTypeData) {
  EXPECT_FALSE(parse_tls_frame(Bytes{}).frame);
  EXPECT_FALSE(parse_tls_frame(Bytes{0x80, 0x00, 0x01}).frame);
}

TEST(TlsFrame, StartAndAck) {
  EXPECT_EQ(tls_start_frame(), Bytes{0x20});
  EXPECT_EQ(tls_ack_frame(), Bytes{0x00});
  TlsFrameParse ack = parse_tls_frame(tls_ack_frame());
  ASSERT_TRUE(ack.frame);
  EXPECT_TRUE(ack.frame->is_ack());
  // Reserved bits are ignored on receipt (RFC 5216 §3.1).
  EXPECT_TRUE(parse_tls_frame(Bytes{0x07}).frame->is_ack());
  EXPECT_TRUE(parse_tls_frame(Bytes{0x80, 0, 0, 0, 0}).frame->is_ack());
  EXPECT_FALSE(parse_tls_frame(Bytes{0x80, 0, 0, 0, 1}).frame->is_ack());
  EXPECT_FALSE(parse_tls_frame(Bytes{0x40}).frame->is_ack());
}

TEST(TlsFragments, SmallMessageGoesUnfragmentedWithoutL) {
  TlsFragments f(100, kDefaultMaxTlsMessage, {});
  const Bytes first = f.send(pattern(100));
  EXPECT_EQ(first.size(), 101u);
  EXPECT_EQ(first[0], 0x00);
  EXPECT_EQ(f.state(), TlsFragments::State::msg);
}

TEST(TlsFragments, FragmentsWithLOnFirstAndMOnAllButLast) {
  Logged logged;
  TlsFragments f(300, kDefaultMaxTlsMessage, logged.sink());
  const Bytes msg = pattern(1000);
  Bytes joined;
  Bytes frame = f.send(msg);
  std::vector<std::uint8_t> flags;
  for (int i = 0; i < 10; ++i) {
    TlsFrameParse p = parse_tls_frame(frame);
    ASSERT_TRUE(p.frame);
    flags.push_back(p.frame->flags);
    if (i == 0) EXPECT_EQ(p.frame->message_length, 1000u);
    else EXPECT_FALSE(p.frame->message_length);
    EXPECT_LE(p.frame->data.size(), 300u);
    joined.insert(joined.end(), p.frame->data.begin(), p.frame->data.end());
    if (!p.frame->more()) break;
    EXPECT_EQ(f.state(), TlsFragments::State::wait_frag_ack);
    TlsFragments::Event ev = f.on_response(tls_ack_frame());
    ASSERT_EQ(ev.kind, Kind::send);
    frame = ev.bytes;
  }
  EXPECT_EQ(flags, (std::vector<std::uint8_t>{0xC0, 0x40, 0x40, 0x00}));
  EXPECT_EQ(joined, msg);
  EXPECT_EQ(f.state(), TlsFragments::State::msg);
  ASSERT_GE(logged.lines.size(), 2u);
  EXPECT_EQ(logged.lines.front(), "EAP-TLS: MSG -> WAIT_FRAG_ACK");
  EXPECT_EQ(logged.lines.back(), "EAP-TLS: WAIT_FRAG_ACK -> MSG");
}

TEST(TlsFragments, DataInsteadOfAnAckIsAnError) {
  TlsFragments f(10, kDefaultMaxTlsMessage, {});
  f.send(pattern(50));
  TlsFragments::Event ev = f.on_response(build_tls_frame(0, std::nullopt, pattern(5)));
  EXPECT_EQ(ev.kind, Kind::error);
}

TEST(TlsFragments, ReassemblesAndAcksEachFragment) {
  Logged logged;
  TlsFragments f(1000, kDefaultMaxTlsMessage, logged.sink());
  const Bytes msg = pattern(2500);
  const std::span<const std::uint8_t> m(msg);
  TlsFragments::Event ev = f.on_response(build_tls_frame(kTlsFlagMore, 2500u, m.subspan(0, 1000)));
  ASSERT_EQ(ev.kind, Kind::send);
  EXPECT_EQ(ev.bytes, tls_ack_frame());
  EXPECT_EQ(f.state(), TlsFragments::State::frag_ack);
  // Some peers repeat L on later fragments: fine when it agrees.
  ev = f.on_response(build_tls_frame(kTlsFlagMore, 2500u, m.subspan(1000, 1000)));
  ASSERT_EQ(ev.kind, Kind::send);
  ev = f.on_response(build_tls_frame(0, std::nullopt, m.subspan(2000)));
  ASSERT_EQ(ev.kind, Kind::message);
  EXPECT_EQ(ev.bytes, msg);
  EXPECT_EQ(f.state(), TlsFragments::State::msg);
  EXPECT_EQ(logged.lines.front(), "EAP-TLS: MSG -> FRAG_ACK");
}

// The reassembly buffer holds exactly the announced TLS Message Length (RFC 5216 §2.1.5:
// L on the first fragment says it), from the first fragment on: what the memory budget
// charges is what the conversation can come to hold, and growth never doubles it.
TEST(TlsFragments, ReassemblyBufferCapacityIsTheAnnouncedLength) {
  TlsFragments f(1000, kDefaultMaxTlsMessage, {});
  constexpr std::size_t kAnnounced = 40'001;  // 40 fragments of 1,000 octets and one more
  const Bytes msg = pattern(kAnnounced);
  const std::span<const std::uint8_t> m(msg);
  ASSERT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, kAnnounced, m.subspan(0, 1000))).kind, Kind::send);
  EXPECT_EQ(f.buffered_bytes(), kAnnounced);
  std::size_t at = 1000;
  for (; at + 1000 < kAnnounced; at += 1000) {
    ASSERT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, std::nullopt, m.subspan(at, 1000))).kind, Kind::send);
    ASSERT_EQ(f.buffered_bytes(), kAnnounced) << at;
  }
  TlsFragments::Event ev = f.on_response(build_tls_frame(0, std::nullopt, m.subspan(at)));
  ASSERT_EQ(ev.kind, Kind::message);
  EXPECT_EQ(ev.bytes, msg);
  EXPECT_EQ(ev.bytes.capacity(), kAnnounced);
  EXPECT_EQ(f.buffered_bytes(), 0u);
}

TEST(TlsFragments, AcceptsUnfragmentedMessagesWithOrWithoutL) {
  TlsFragments f(1000, kDefaultMaxTlsMessage, {});
  EXPECT_EQ(f.on_response(build_tls_frame(0, 20u, pattern(20))).kind, Kind::message);
  EXPECT_EQ(f.on_response(build_tls_frame(0, std::nullopt, pattern(20))).kind, Kind::message);
  TlsFragments::Event ev = f.on_response(build_tls_frame(0, 21u, pattern(20)));
  EXPECT_EQ(ev.kind, Kind::error);
}

TEST(TlsFragments, EmptyResponseWithNothingOutstandingIsThePeersAck) {
  TlsFragments f(1000, kDefaultMaxTlsMessage, {});
  EXPECT_EQ(f.on_response(tls_ack_frame()).kind, Kind::peer_ack);
}

TEST(TlsFragments, AnnouncedLengthOverTheCapFailsBeforeAllocating) {
  TlsFragments f(1000, kDefaultMaxTlsMessage, {});
  TlsFragments::Event ev = f.on_response(build_tls_frame(kTlsFlagMore, 1'000'000u, pattern(100)));
  ASSERT_EQ(ev.kind, Kind::error);
  EXPECT_NE(ev.error.find("cap"), std::string::npos);
  // Even 4 GiB - 1 is just a number.
  EXPECT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, 0xFFFFFFFFu, pattern(1))).kind, Kind::error);
}

TEST(TlsFragments, FragmentsThatLieAboutTheirLengthFail) {
  {  // more data than announced
    TlsFragments f(1000, kDefaultMaxTlsMessage, {});
    ASSERT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, 1500u, pattern(1000))).kind, Kind::send);
    TlsFragments::Event ev = f.on_response(build_tls_frame(0, std::nullopt, pattern(1000)));
    EXPECT_EQ(ev.kind, Kind::error);
    EXPECT_NE(ev.error.find("exceed"), std::string::npos);
  }
  {  // less data than announced
    TlsFragments f(1000, kDefaultMaxTlsMessage, {});
    ASSERT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, 3000u, pattern(1000))).kind, Kind::send);
    TlsFragments::Event ev = f.on_response(build_tls_frame(0, std::nullopt, pattern(500)));
    EXPECT_EQ(ev.kind, Kind::error);
    EXPECT_NE(ev.error.find("add up"), std::string::npos);
  }
  {  // the announced length changes
    TlsFragments f(1000, kDefaultMaxTlsMessage, {});
    ASSERT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, 3000u, pattern(1000))).kind, Kind::send);
    EXPECT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, 4000u, pattern(1000))).kind, Kind::error);
  }
  {  // M set although the length is complete
    TlsFragments f(1000, kDefaultMaxTlsMessage, {});
    ASSERT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, 2000u, pattern(1000))).kind, Kind::send);
    EXPECT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, std::nullopt, pattern(1000))).kind, Kind::error);
  }
  {  // first fragment without L, first fragment holding it all, empty fragments, S from a peer
    TlsFragments f(1000, kDefaultMaxTlsMessage, {});
    EXPECT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, std::nullopt, pattern(10))).kind, Kind::error);
    EXPECT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, 10u, pattern(10))).kind, Kind::error);
    EXPECT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, 10u, {})).kind, Kind::error);
    EXPECT_EQ(f.on_response(build_tls_frame(kTlsFlagStart, std::nullopt, {})).kind, Kind::error);
    ASSERT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, 20u, pattern(10))).kind, Kind::send);
    EXPECT_EQ(f.on_response(tls_ack_frame()).kind, Kind::error);
  }
}

TEST(TlsFragments, ReassemblyCapIsConfigurable) {
  TlsFragments f(1000, 2000, {});
  EXPECT_EQ(f.on_response(build_tls_frame(0, std::nullopt, pattern(2001))).kind, Kind::error);
  EXPECT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, 2001u, pattern(10))).kind, Kind::error);
  EXPECT_EQ(f.on_response(build_tls_frame(kTlsFlagMore, 2000u, pattern(10))).kind, Kind::send);
}

TEST(TlsFragments, RejectsNonsenseConfiguration) {
  EXPECT_THROW(TlsFragments(0, kDefaultMaxTlsMessage, {}), std::invalid_argument);
  TlsFragments f(10, kDefaultMaxTlsMessage, {});
  EXPECT_THROW(f.send({}), std::invalid_argument);
  f.send(pattern(50));
  EXPECT_THROW(f.send(pattern(5)), std::logic_error);
}

}  // namespace
}  // namespace portcullis::radius::eap
