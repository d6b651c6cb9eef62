// Asynchronous HTTP/1.1 listener (Boost.Beast behind a pimpl, so that only
// server.cpp pays for Beast's compile time). It carries the public /crl, /ocsp and
// later /scep routes, and the admin API; what a request means is the HttpHandler's
// business (app/http/types.hpp), this class only moves bytes.
//
// Per connection: one strand (handlers of one connection never run concurrently, different
// connections run in parallel on the io_context's threads), keep-alive, a header size
// limit, a request body limit (413 and close), a deadline for each request's header and
// an idle timeout, and an optional TLS handshake with a timeout. Handlers may block (SQLite
// syncs, signing): with a handler_executor they run there, off the io_context's threads.
// Open connections are capped in all and per source address (app/http/connection_limits.hpp).
#pragma once

#include "app/http/connection_limits.hpp"
#include "app/http/types.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace portcullis::app {

struct HttpServerOptions {
  std::string name;                                // for logs: "public", "admin"
  std::string bind_address = "127.0.0.1";          // IPv4 or IPv6 literal
  std::uint16_t port = 0;                          // 0 = ephemeral (see port())
  std::size_t max_body_bytes = 1 << 20;            // larger requests get 413
  std::shared_ptr<boost::asio::ssl::context> tls;  // null = plain HTTP
  std::chrono::seconds idle_timeout{30};           // between requests; the body; each write
  // The whole request header, from its first octet; on a new connection from the accept
  // (or the TLS handshake), and then at most idle_timeout. A client sending its header an
  // octet at a time (slowloris) holds its connection this long at most.
  std::chrono::seconds header_timeout{10};
  ConnectionCaps caps;                             // over a cap: closed at accept, counted
  boost::asio::any_io_executor handler_executor;   // where handlers run; empty = on the I/O thread
};

struct HttpServerStats {
  std::size_t open_connections = 0;
  std::uint64_t refused_total_cap = 0;    // connections closed at accept: the listener was full
  std::uint64_t refused_address_cap = 0;  // ... their address (IPv6: /64) had its share open
  std::uint64_t reclaimed = 0;  // waiting connections closed to admit a less busy address
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, HttpServerOptions options, HttpHandler handler);
  ~HttpServer();  // stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens, then accepts on the io_context. Throws std::runtime_error naming the
  // address when the bind or listen fails (port in use, address not local, …).
  void start();
  // The bound port (the ephemeral one when options.port was 0). Valid after start().
  std::uint16_t port() const;
  HttpServerStats stats() const;
  // Stops accepting. Requests being handled finish and get their response; idle keep-alive
  // connections are closed, so that a graceful shutdown does not wait for idle_timeout.
  // Safe to call more than once and from any thread.
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace portcullis::app
