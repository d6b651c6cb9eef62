// The Asio edge: datagrams in on IPv4 and IPv6 loopback, the handler's reply back to the
// sender, no reply when the handler returns nothing, and a clean stop.
#include "radius/udp_listener.hpp"

#include <boost/asio/ip/udp.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace portcullis::radius {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

class UdpListenerTest : public ::testing::TestWithParam<const char*> {};

TEST_P(UdpListenerTest, RepliesToTheSenderAndStops) {
  asio::io_context io;
  std::atomic<int> calls{0};
  IpAddress seen_source;
  auto listener = UdpListener::create(io, GetParam(), 0, SocketKind::acct, [&](const Datagram& d) -> std::optional<Bytes> {
    ++calls;
    seen_source = d.source;
    EXPECT_EQ(d.socket, SocketKind::acct);
    if (d.bytes.size() == 1) return std::nullopt;  // "drop"
    Bytes echo(d.bytes.begin(), d.bytes.end());
    echo.push_back(0xEE);
    return echo;
  });
  ASSERT_NE(listener->port(), 0);
  listener->start();
  std::thread runner([&] { io.run(); });

  asio::io_context client_io;
  const udp::endpoint server(asio::ip::make_address(GetParam()), listener->port());
  udp::socket client(client_io, udp::endpoint(server.protocol(), 0));
  const Bytes ping{1, 2, 3};
  client.send_to(asio::buffer(Bytes{9}), server);  // dropped by the handler
  client.send_to(asio::buffer(ping), server);
  std::array<std::uint8_t, 64> buf{};
  udp::endpoint from;
  const std::size_t n = client.receive_from(asio::buffer(buf), from);
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + static_cast<long>(n)), (Bytes{1, 2, 3, 0xEE}));
  EXPECT_EQ(from.port(), listener->port());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(seen_source, IpAddress::parse(GetParam()).value());

  listener->stop();
  runner.join();  // returns only once the socket is closed and nothing is pending
}

INSTANTIATE_TEST_SUITE_P(Loopback, UdpListenerTest, ::testing::Values("127.0.0.1", "::1"));

TEST(UdpListener, BindErrorIsReported) {
  asio::io_context io;
  auto first = UdpListener::create(io, "127.0.0.1", 0, SocketKind::auth, [](const Datagram&) { return std::nullopt; });
  EXPECT_THROW(UdpListener::create(io, "127.0.0.1", first->port(), SocketKind::auth,
                                   [](const Datagram&) { return std::nullopt; }),
               boost::system::system_error);
}

}  // namespace
}  // namespace portcullis::radius
