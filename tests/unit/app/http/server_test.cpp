// HttpServer over real loopback sockets, driven by app::http_request and, where the
// connection itself is under test (keep-alive, limits, timeouts), by raw POSIX sockets.
#include "app/http/client.hpp"
#include "app/http/server.hpp"
#include "app/http/tls_context.hpp"
#include "ca/x509.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/thread_pool.hpp>
#include <gtest/gtest.h>
#include <openssl/ec.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace app = portcullis::app;
namespace ca = portcullis::ca;

namespace {

// An io_context run by two threads (so per-connection strands matter) around one server.
class TestServer {
 public:
  TestServer(app::HttpServerOptions options, app::HttpHandler handler)
      : guard_(ioc_.get_executor()), server_(ioc_, std::move(options), std::move(handler)) {
    server_.start();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~TestServer() {
    server_.stop();
    guard_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }
  std::uint16_t port() const { return server_.port(); }
  app::HttpServer& server() { return server_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  app::HttpServer server_;
  std::vector<std::thread> threads_;
};

app::HttpServerOptions plain_options(std::size_t max_body = 1 << 20) {
  app::HttpServerOptions options;
  options.name = "test";
  options.max_body_bytes = max_body;
  return options;
}

app::HttpClientOptions client_for(std::uint16_t port) {
  app::HttpClientOptions options;
  options.port = port;
  options.timeout = std::chrono::seconds(10);
  return options;
}

// Echoes what the handler saw, one "key=value" per line.
app::HttpResponse echo(const app::HttpRequest& r) {
  if (r.path == "/missing") return {404, "text/plain", "nope", {}};
  if (r.path == "/throw") throw std::runtime_error("database exploded at /throw");
  std::string body = "method=" + r.method + "\npath=" + r.path + "\nquery=" + r.query + "\nremote=" + r.remote_address +
                     "\nx-test=" + (r.header("x-test") ? *r.header("x-test") : "") + "\nbody=" + r.body;
  return {200, "text/plain; charset=utf-8", body, {{"Cache-Control", "no-store"}}};
}

// A blocking socket with a receive timeout, for tests of the connection itself.
class RawConnection {
 public:
  // `source`: the local address to connect from (any of 127/8 on Linux), so that one test
  // can be several peers.
  explicit RawConnection(std::uint16_t port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ >= 0 && source != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) throw std::runtime_error("bind failed");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect failed");
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() { ::close(fd_); }
  int fd() const { return fd_; }
  void send_all(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      sent += static_cast<std::size_t>(n);
    }
  }
  // Reads until the peer closes (true) or the receive timeout hits (false).
  bool read_to_eof(std::string& out) {
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  void set_timeout(int seconds) {
    timeval tv{seconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

 private:
  int fd_ = -1;
};

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

TEST(HttpServer, GetAndPostReachTheHandler) {
  TestServer server(plain_options(), echo);
  auto get = app::http_request(client_for(server.port()), "GET", "/a/b?x=1&y=%20", {{"X-Test", "hello"}});
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.content_type, "text/plain; charset=utf-8");
  EXPECT_NE(get.body.find("method=GET\npath=/a/b\nquery=x=1&y=%20\nremote=127.0.0.1\nx-test=hello\n"),
            std::string::npos)
      << get.body;

  auto post = app::http_request(client_for(server.port()), "POST", "/submit", {{"Content-Type", "text/plain"}},
                                "payload with\nnewline");
  EXPECT_EQ(post.status, 200);
  EXPECT_NE(post.body.find("method=POST\npath=/submit\n"), std::string::npos);
  EXPECT_NE(post.body.find("body=payload with\nnewline"), std::string::npos);
}

TEST(HttpServer, HandlerStatusAndHeadersPassThrough) {
  TestServer server(plain_options(), echo);
  auto missing = app::http_request(client_for(server.port()), "GET", "/missing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "nope");

  RawConnection c(server.port());
  c.send_all("GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  std::string reply;
  ASSERT_TRUE(c.read_to_eof(reply));
  EXPECT_NE(reply.find("Cache-Control: no-store\r\n"), std::string::npos) << reply;
  EXPECT_NE(reply.find("Content-Length: "), std::string::npos);
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::atomic<int> calls{0};
  TestServer server(plain_options(), [&](const app::HttpRequest& r) {
    ++calls;
    return app::HttpResponse{200, "text/plain", "hi " + r.path, {}};
  });
  RawConnection c(server.port());
  // Pipelined, the last one asks to close (RFC 9112 §9.3, §9.6).
  c.send_all("GET /one HTTP/1.1\r\nHost: t\r\n\r\nGET /two HTTP/1.1\r\nHost: t\r\n\r\n"
             "GET /three HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  std::string reply;
  ASSERT_TRUE(c.read_to_eof(reply));
  EXPECT_EQ(count(reply, "HTTP/1.1 200 OK"), 3u) << reply;
  EXPECT_NE(reply.find("hi /one"), std::string::npos);
  EXPECT_NE(reply.find("hi /three"), std::string::npos);
  EXPECT_EQ(calls.load(), 3);
}

TEST(HttpServer, OversizedBodyGets413AndNeverReachesTheHandler) {
  std::atomic<int> calls{0};
  TestServer server(plain_options(1024), [&](const app::HttpRequest&) {
    ++calls;
    return app::HttpResponse{200, "text/plain", "ok", {}};
  });
  auto at_limit = app::http_request(client_for(server.port()), "POST", "/", {}, std::string(1024, 'a'));
  EXPECT_EQ(at_limit.status, 200);
  // Well over the limit, more than socket buffers hold: the answer must still arrive.
  auto over = app::http_request(client_for(server.port()), "POST", "/", {}, std::string(4 << 20, 'a'));
  EXPECT_EQ(over.status, 413);
  EXPECT_NE(over.body.find("too large"), std::string::npos);
  EXPECT_EQ(calls.load(), 1);

  // Chunked bodies have no Content-Length up front; the limit applies as they arrive.
  RawConnection c(server.port());
  std::string chunk(2000, 'b');
  c.send_all("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + chunk + "\r\n0\r\n\r\n");
  std::string reply;
  ASSERT_TRUE(c.read_to_eof(reply));  // and the connection is closed
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServer, ExpectContinueIsAnsweredBeforeTheBody) {
  TestServer server(plain_options(1024), echo);
  {
    // RFC 9110 §10.1.1: the client waits for 100 before sending the body.
    RawConnection c(server.port());
    c.send_all("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
    char buf[64];
    ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)).rfind("HTTP/1.1 100 Continue\r\n", 0), 0u);
    c.send_all("hello");
    std::string reply;
    ASSERT_TRUE(c.read_to_eof(reply));
    EXPECT_NE(reply.find("body=hello"), std::string::npos) << reply;
  }
  {
    // Too large: refused at the header, the client need not send the body at all.
    RawConnection c(server.port());
    c.send_all("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 999999\r\nExpect: 100-continue\r\n\r\n");
    std::string reply;
    ASSERT_TRUE(c.read_to_eof(reply));
    EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
  }
}

TEST(HttpServer, MalformedRequestGets400AndOversizedHeaders431) {
  TestServer server(plain_options(), echo);
  {
    RawConnection c(server.port());
    c.send_all("NOT HTTP AT ALL\r\n\r\n");
    std::string reply;
    ASSERT_TRUE(c.read_to_eof(reply));
    EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  }
  {
    RawConnection c(server.port());
    c.send_all("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(32 * 1024, 'x') + "\r\n\r\n");
    std::string reply;
    ASSERT_TRUE(c.read_to_eof(reply));
    EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0u) << reply;
  }
}

TEST(HttpServer, ThrowingHandlerGives500WithoutDetails) {
  TestServer server(plain_options(), echo);
  auto reply = app::http_request(client_for(server.port()), "GET", "/throw");
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.body.find("exploded"), std::string::npos);
  // The server keeps serving after a handler failure.
  EXPECT_EQ(app::http_request(client_for(server.port()), "GET", "/fine").status, 200);
}

TEST(HttpServer, IdleConnectionsAreClosedAfterTheTimeout) {
  auto options = plain_options();
  options.idle_timeout = std::chrono::seconds(1);
  TestServer server(options, echo);
  RawConnection c(server.port());
  auto start = std::chrono::steady_clock::now();
  std::string reply;
  ASSERT_TRUE(c.read_to_eof(reply));
  EXPECT_TRUE(reply.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// Until the peer closes or `limit` passes, sends `drip` one octet every 100 ms. Returns how
// long the connection lived, or nullopt if it outlived `limit`.
std::optional<std::chrono::milliseconds> drip_until_closed(RawConnection& c, const std::string& drip,
                                                           std::chrono::seconds limit) {
  const auto start = std::chrono::steady_clock::now();
  timeval tv{0, 100 * 1000};
  ::setsockopt(c.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (std::size_t i = 0; std::chrono::steady_clock::now() - start < limit; ++i) {
    const char octet = drip[i % drip.size()];
    if (::send(c.fd(), &octet, 1, MSG_NOSIGNAL) != 1)
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    char buf[256];
    const ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  }
  return std::nullopt;
}

// Slowloris: a header sent an octet at a time never completes, and each octet arrives well
// within any per-read timeout. The header deadline (1 s here) cuts it, though the idle
// timeout (30 s) is far off.
TEST(HttpServer, AHeaderSentOctetByOctetIsCutAtTheHeaderDeadline) {
  auto options = plain_options();
  options.header_timeout = std::chrono::seconds(1);
  ASSERT_EQ(options.idle_timeout, std::chrono::seconds(30));
  TestServer server(options, echo);
  const std::string endless = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

  RawConnection fresh(server.port());
  auto lived = drip_until_closed(fresh, endless, std::chrono::seconds(8));
  ASSERT_TRUE(lived.has_value()) << "a slowloris header outlived 8 s";
  EXPECT_GE(lived->count(), 800);
  EXPECT_LT(lived->count(), 3000);

  // The same on a kept-alive connection, for the second request: the deadline runs from
  // its first octet, after an idle pause longer than the header deadline itself.
  RawConnection kept(server.port());
  kept.send_all("GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
  char buf[4096];
  ASSERT_GT(::recv(kept.fd(), buf, sizeof buf, 0), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // idle, within idle_timeout
  lived = drip_until_closed(kept, endless, std::chrono::seconds(8));
  ASSERT_TRUE(lived.has_value()) << "a slowloris second header outlived 8 s";
  EXPECT_LT(lived->count(), 3000);
}

// The per-address cap: the N+1th connection from one address is closed at accept, another
// address is still served, and a closed connection frees its place.
TEST(HttpServer, PerAddressCapRefusesTheNextConnectionFromThatAddress) {
  auto options = plain_options();
  options.caps = app::ConnectionCaps{10, 2};
  TestServer server(options, echo);
  RawConnection a1(server.port(), "127.0.0.1"), a2(server.port(), "127.0.0.1");
  std::optional<RawConnection> a3(std::in_place, server.port(), "127.0.0.1");
  a3->send_all("GET /third HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string reply;
  ASSERT_TRUE(a3->read_to_eof(reply));
  EXPECT_TRUE(reply.empty()) << reply;
  EXPECT_EQ(server.server().stats().refused_address_cap, 1u);
  EXPECT_EQ(server.server().stats().refused_total_cap, 0u);

  RawConnection b(server.port(), "127.0.0.2");
  b.send_all("GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(b.read_to_eof(reply));
  EXPECT_NE(reply.find("path=/other"), std::string::npos) << reply;

  a2.send_all("GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");  // still served
  reply.clear();
  ASSERT_TRUE(a2.read_to_eof(reply));
  EXPECT_NE(reply.find("path=/second"), std::string::npos) << reply;
  // a2's place is given back once its session ends; then 127.0.0.1 may connect again.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.server().stats().open_connections > 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(server.server().stats().open_connections, 1u);  // a1
  RawConnection again(server.port(), "127.0.0.1");
  again.send_all("GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  reply.clear();
  ASSERT_TRUE(again.read_to_eof(reply));
  EXPECT_NE(reply.find("path=/again"), std::string::npos) << reply;
}

TEST(HttpServer, TotalCapRefusesConnectionsFromAnyAddressOnceFull) {
  auto options = plain_options();
  options.caps = app::ConnectionCaps{2, 10};
  TestServer server(options, echo);
  RawConnection a(server.port(), "127.0.0.1"), b(server.port(), "127.0.0.2");
  RawConnection c(server.port(), "127.0.0.3");
  c.send_all("GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string reply;
  ASSERT_TRUE(c.read_to_eof(reply));
  EXPECT_TRUE(reply.empty()) << reply;
  EXPECT_EQ(server.server().stats().refused_total_cap, 1u);
  EXPECT_EQ(server.server().stats().refused_address_cap, 0u);
  EXPECT_EQ(server.server().stats().open_connections, 2u);
  b.send_all("GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");  // the admitted ones are served
  ASSERT_TRUE(b.read_to_eof(reply));
  EXPECT_NE(reply.find("path=/b"), std::string::npos) << reply;
}

// Slow headers from two addresses fill the listener: a client from a third address is
// still served, and the connection that made room for it was a slow one.
TEST(HttpServer, AFullListenerClosesASlowHeaderToServeALessBusyAddress) {
  auto options = plain_options();
  options.caps = app::ConnectionCaps{4, 3};
  TestServer server(options, echo);
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (const char* source : {"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3"}) {
    slow.push_back(std::make_unique<RawConnection>(server.port(), source));
    slow.back()->send_all("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.server().stats().open_connections < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(server.server().stats().open_connections, 4u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // their reads are posted

  RawConnection legit(server.port(), "127.0.0.1");
  legit.send_all("GET /legit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string reply;
  ASSERT_TRUE(legit.read_to_eof(reply));
  EXPECT_NE(reply.find("path=/legit"), std::string::npos) << reply;
  EXPECT_EQ(server.server().stats().reclaimed, 1u);
  EXPECT_EQ(server.server().stats().refused_total_cap, 0u);
  std::string gone;
  EXPECT_TRUE(slow[0]->read_to_eof(gone));  // 127.0.0.2's oldest was closed
  EXPECT_TRUE(gone.empty()) << gone;
}

TEST(HttpServer, StopClosesIdleConnectionsAndRefusesNewOnes) {
  TestServer server(plain_options(), echo);
  RawConnection idle(server.port());
  ASSERT_EQ(app::http_request(client_for(server.port()), "GET", "/").status, 200);
  server.server().stop();
  std::string reply;
  ASSERT_TRUE(idle.read_to_eof(reply));  // closed well before the 30 s idle timeout
  // The acceptor closes on its own strand; give that a moment to run.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_THROW(
      {
        try {
          app::http_request(client_for(server.port()), "GET", "/");
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find("cannot reach admin API at 127.0.0.1:"), std::string::npos) << e.what();
          throw;
        }
      },
      std::runtime_error);
}

// With a handler_executor, handlers run on it (the service's worker pool), not on the
// io threads, and the answer still goes out on the connection's strand.
TEST(HttpServer, HandlersRunOnTheWorkerPoolWithKeepAliveAndErrors) {
  boost::asio::thread_pool workers(2);
  auto options = plain_options();
  options.handler_executor = workers.get_executor();
  std::atomic<int> on_pool{0}, elsewhere{0};
  TestServer server(options, [&](const app::HttpRequest& r) {
    ++(workers.get_executor().running_in_this_thread() ? on_pool : elsewhere);
    return echo(r);
  });
  RawConnection c(server.port());
  c.send_all("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /throw HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string reply;
  ASSERT_TRUE(c.read_to_eof(reply));
  // Three answers on one connection, in request order, the failing one a 500.
  const auto one = reply.find("path=/one"), error = reply.find("HTTP/1.1 500"), two = reply.find("path=/two");
  ASSERT_NE(one, std::string::npos) << reply;
  ASSERT_NE(error, std::string::npos) << reply;
  ASSERT_NE(two, std::string::npos) << reply;
  EXPECT_LT(one, error);
  EXPECT_LT(error, two);
  EXPECT_EQ(on_pool.load(), 3);
  EXPECT_EQ(elsewhere.load(), 0);
}

// stop() while a handler is still running on the pool: that request is answered (with
// Connection: close), nothing new is accepted.
TEST(HttpServer, StopLetsAHandlerOnThePoolFinishAndAnswer) {
  boost::asio::thread_pool workers(1);
  auto options = plain_options();
  options.handler_executor = workers.get_executor();
  std::promise<void> entered, release;
  auto released = release.get_future().share();
  TestServer server(options, [&](const app::HttpRequest& r) {
    entered.set_value();
    released.wait();
    return echo(r);
  });
  RawConnection c(server.port());
  c.send_all("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  entered.get_future().wait();
  server.server().stop();
  release.set_value();
  std::string reply;
  ASSERT_TRUE(c.read_to_eof(reply));
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_NE(reply.find("path=/slow"), std::string::npos) << reply;
  EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
}

TEST(HttpServer, BindFailureNamesTheAddress) {
  TestServer first(plain_options(), echo);
  auto options = plain_options();
  options.port = first.port();
  boost::asio::io_context ioc;
  app::HttpServer second(ioc, options, echo);
  try {
    second.start();
    FAIL() << "binding a used port succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << e.what();
  }
  options.bind_address = "not-an-address";
  app::HttpServer third(ioc, options, echo);
  EXPECT_THROW(third.start(), std::runtime_error);
}

TEST(HttpServer, Ipv6LoopbackWorksOrFailsWithTheAddress) {
  auto options = plain_options();
  options.bind_address = "::1";
  std::optional<TestServer> server;
  try {
    server.emplace(options, echo);
  } catch (const std::runtime_error& e) {
    // A host without IPv6 (some containers): the failure must name the address.
    EXPECT_NE(std::string(e.what()).find("[::1]:"), std::string::npos) << e.what();
    return;
  }
  auto client = client_for(server->port());
  client.host = "[::1]";  // URL-style brackets are accepted
  auto reply = app::http_request(client, "GET", "/v6");
  EXPECT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("remote=::1"), std::string::npos) << reply.body;
}

// --- TLS --------------------------------------------------------------------------

struct SelfSigned {
  std::string cert_path, key_path;
};

// A self-signed P-256 certificate for CN=localhost, SAN DNS:localhost and IP:127.0.0.1.
SelfSigned make_self_signed(const std::filesystem::path& dir, const std::string& stem) {
  ca::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  ca::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 4242);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    ca::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) throw std::runtime_error("extension failed");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  SelfSigned out{(dir / (stem + ".pem")).string(), (dir / (stem + ".key")).string()};
  ca::write_file(out.cert_path, ca::cert_to_pem(cert.get()));
  ca::write_file(out.key_path, ca::key_to_pem(key.get()), 0600);
  return out;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "portcullis-http-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(HttpServer, TlsRoundTripVerifiesThePeer) {
  TempDir dir;
  SelfSigned server_cert = make_self_signed(dir.path(), "server");
  SelfSigned other = make_self_signed(dir.path(), "other");
  auto options = plain_options();
  options.tls = app::make_server_tls_context(server_cert.cert_path, server_cert.key_path, "");
  TestServer server(options, echo);

  auto client = client_for(server.port());
  client.tls = true;
  client.ca_file = server_cert.cert_path;
  auto reply = app::http_request(client, "POST", "/secure", {}, "over tls");
  EXPECT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("body=over tls"), std::string::npos);

  client.host = "localhost";  // DNS name check instead of the IP one
  EXPECT_EQ(app::http_request(client, "GET", "/by-name").status, 200);

  client.host = "127.0.0.1";
  client.ca_file = other.cert_path;  // a CA that did not issue the server certificate
  try {
    app::http_request(client, "GET", "/");
    FAIL() << "TLS with the wrong CA succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("certificate verification failed"), std::string::npos) << e.what();
  }

  client.ca_file.clear();  // no trust anchor, no TLS: there is no "insecure" mode
  EXPECT_THROW(app::http_request(client, "GET", "/"), std::runtime_error);

  // Plain HTTP to the TLS port does not get an answer from the handler.
  EXPECT_THROW(app::http_request(client_for(server.port()), "GET", "/"), std::runtime_error);
}

TEST(HttpServer, TlsContextRefusesAMismatchedKey) {
  TempDir dir;
  SelfSigned a = make_self_signed(dir.path(), "a");
  SelfSigned b = make_self_signed(dir.path(), "b");
  EXPECT_THROW(app::make_server_tls_context(a.cert_path, b.key_path, ""), std::runtime_error);
  EXPECT_THROW(app::make_server_tls_context((dir.path() / "absent.pem").string(), a.key_path, ""), std::runtime_error);
  // A key that group or others can read is refused, naming the file and the fix.
  ASSERT_EQ(::chmod(a.key_path.c_str(), 0640), 0);
  try {
    app::make_server_tls_context(a.cert_path, a.key_path, "");
    ADD_FAILURE() << "a group-readable key was used";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("chmod 600 " + a.key_path), std::string::npos) << e.what();
  }
  ASSERT_EQ(::chmod(a.key_path.c_str(), 0600), 0);
  EXPECT_NO_THROW(app::make_server_tls_context(a.cert_path, a.key_path, ""));
}

}  // namespace
