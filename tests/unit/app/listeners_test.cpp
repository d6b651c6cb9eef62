// The service's two HTTP listeners under a flood on the public one: its connections capped,
// its handler threads all stuck, and the admin API still answering at once, because it has
// caps and a worker pool of its own.
#include "app/http/client.hpp"
#include "app/listeners.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <map>
#include <thread>

namespace app = portcullis::app;

namespace {

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("connect failed");
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void send_text(int fd, const std::string& text) {
  if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size()))
    throw std::runtime_error("send failed");
}

std::map<std::string, std::uint64_t> as_map(const std::vector<std::pair<std::string, std::uint64_t>>& counters) {
  return {counters.begin(), counters.end()};
}

TEST(HttpListeners, AdminAnswersWhileThePublicListenerIsSaturated) {
  app::Config config;
  config.http.port = 0;
  config.admin.port = 0;
  config.http.max_connections = 4;
  config.http.max_connections_per_address = 4;
  config.service.http_workers = 2;
  config.admin.workers = 1;

  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::atomic<std::uint64_t> exceptions{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> public_entered{0};
  app::HttpListeners http(
      io, config, 2, nullptr,
      [&](const app::HttpRequest&) {
        ++public_entered;
        released.wait();  // a slow public handler: a stuck signing device, a locked ledger
        return app::HttpResponse{200, "text/plain", "public", {}};
      },
      [](const app::HttpRequest&) { return app::HttpResponse{200, "text/plain", "admin", {}}; }, exceptions);
  http.start();
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { io.run(); });

  // Four public connections (the cap), each with a request: both public workers are stuck,
  // two requests wait behind them.
  std::vector<int> flood;
  for (int i = 0; i < 4; ++i) {
    flood.push_back(connect_loopback(http.public_server().port()));
    send_text(flood.back(), "GET /crl HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (public_entered.load() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(public_entered.load(), 2);
  // A fifth is closed at accept.
  const int over = connect_loopback(http.public_server().port());
  char buf[64];
  EXPECT_EQ(::recv(over, buf, sizeof buf, 0), 0) << "the fifth public connection was not closed at once";
  ::close(over);

  // The admin API answers at once.
  app::HttpClientOptions admin;
  admin.port = http.admin_server().port();
  admin.timeout = std::chrono::seconds(3);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    const auto reply = app::http_request(admin, "GET", "/api/v1/health");
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, "admin");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  } catch (const std::runtime_error& e) {
    ADD_FAILURE() << "the admin API did not answer: " << e.what();  // the flood still gets released
  }

  const auto counters = as_map(http.counters());
  EXPECT_EQ(counters.at("http_public_open"), 4u);
  EXPECT_EQ(counters.at("http_public_refused_total_cap"), 1u);
  EXPECT_EQ(counters.at("http_admin_refused_total_cap"), 0u);

  release.set_value();  // the flood's requests complete and are answered
  for (const int fd : flood) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    EXPECT_GT(n, 0);
    ::close(fd);
  }
  http.stop();
  guard.reset();
  for (auto& t : threads) t.join();
  http.join_workers();
  EXPECT_EQ(exceptions.load(), 0u);
}

}  // namespace
