// The Asio edge: datagrams in on IPv4 and IPv6 loopback, the handler's reply back to the
// sender, no reply when the handler returns nothing, handlers in parallel on the io
// threads, and a clean stop, also under a running handler.
#include "radius/udp_listener.hpp"

#include <boost/asio/ip/udp.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
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

// One slow EAP step must not hold up the next datagram: with two io threads, the second
// datagram is answered while the handler is still busy with the first. The second is sent
// only once the first handler has been entered, so "overtook" can only mean "in parallel"
// (sending both at once let the first sit between its receive and its handler while the
// second was answered, and CI saw a highest concurrency of 1).
TEST(UdpListener, ASlowHandlerDoesNotHoldUpTheNextDatagram) {
  asio::io_context io(2);
  std::promise<void> first_entered, second_answered;
  std::shared_future<void> released = second_answered.get_future().share();
  std::atomic<int> concurrent{0}, max_concurrent{0};
  auto listener = UdpListener::create(io, "127.0.0.1", 0, SocketKind::auth, [&](const Datagram& d) -> std::optional<Bytes> {
    const int now = ++concurrent;
    int seen = max_concurrent.load();
    while (now > seen && !max_concurrent.compare_exchange_weak(seen, now)) {
    }
    if (d.bytes[0] == 1) {
      first_entered.set_value();
      released.wait_for(std::chrono::seconds(10));
    }
    --concurrent;
    return Bytes(d.bytes.begin(), d.bytes.end());
  });
  listener->start();
  std::thread a([&] { io.run(); }), b([&] { io.run(); });

  asio::io_context client_io;
  const udp::endpoint server(asio::ip::make_address("127.0.0.1"), listener->port());
  udp::socket client(client_io, udp::endpoint(udp::v4(), 0));
  client.send_to(asio::buffer(Bytes{1}), server);  // held until the second is answered
  ASSERT_EQ(first_entered.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  client.send_to(asio::buffer(Bytes{2}), server);
  std::array<std::uint8_t, 8> buf{};
  udp::endpoint from;
  ASSERT_EQ(client.receive_from(asio::buffer(buf), from), 1u);
  EXPECT_EQ(buf[0], 2);  // the second datagram overtook the first
  EXPECT_EQ(max_concurrent.load(), 2);
  second_answered.set_value();
  ASSERT_EQ(client.receive_from(asio::buffer(buf), from), 1u);
  EXPECT_EQ(buf[0], 1);

  listener->stop();
  a.join();
  b.join();
}

// stop() while a handler runs: its reply is not sent to a closed socket, and run() returns.
TEST(UdpListener, StopWhileAHandlerRunsSendsNothingAfterwards) {
  asio::io_context io;
  std::promise<void> entered, stopped;
  std::shared_future<void> stop_done = stopped.get_future().share();
  std::atomic<std::uint64_t> send_failures{0};
  auto listener = UdpListener::create(
      io, "127.0.0.1", 0, SocketKind::auth,
      [&](const Datagram& d) -> std::optional<Bytes> {
        entered.set_value();
        stop_done.wait();
        return Bytes(d.bytes.begin(), d.bytes.end());
      },
      &send_failures);
  listener->start();
  std::thread runner([&] { io.run(); });

  asio::io_context client_io;
  udp::socket client(client_io, udp::endpoint(udp::v4(), 0));
  client.send_to(asio::buffer(Bytes{7}), udp::endpoint(asio::ip::make_address("127.0.0.1"), listener->port()));
  entered.get_future().wait();
  listener->stop();
  stopped.set_value();
  runner.join();
  client.non_blocking(true);
  std::array<std::uint8_t, 8> buf{};
  udp::endpoint from;
  boost::system::error_code ec;
  client.receive_from(asio::buffer(buf), from, 0, ec);
  EXPECT_EQ(ec, asio::error::would_block);  // no reply left the closed socket
  EXPECT_EQ(send_failures.load(), 0u);     // and none was attempted
}

TEST(UdpListener, BindErrorIsReported) {
  asio::io_context io;
  auto first = UdpListener::create(io, "127.0.0.1", 0, SocketKind::auth, [](const Datagram&) { return std::nullopt; });
  EXPECT_THROW(UdpListener::create(io, "127.0.0.1", first->port(), SocketKind::auth,
                                   [](const Datagram&) { return std::nullopt; }),
               boost::system::system_error);
}

}  // namespace
}  // namespace portcullis::radius
