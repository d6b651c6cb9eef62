// Boost.Beast HTTP/1.1 server: an acceptor on its own strand, and one Session per
// connection on a strand of its own, templated on the stream (plain TCP or TLS over TCP).
// The request translation is app/http/beast_request.hpp, the response's is at the bottom
// of the anonymous namespace; routing is entirely the handler's.
#include "app/http/server.hpp"

#include "app/http/beast_request.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace portcullis::app {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// What one read may take from the socket. Beast's reads are sized by the buffer's free
// capacity, at least 512 octets: from an empty buffer a 3 KiB SCEP PKIOperation took six
// recvmsg calls. Reserved once per connection, this takes a whole typical request
// (headers and body) in one.
constexpr std::size_t kReadChunk = 8 * 1024;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kShutdownTimeout = std::chrono::seconds(5);
// After a 413 the client may still be sending its body; closing with unread data would
// reset the connection and the client would never read our answer. So we read and
// discard for a while ("lingering close", as nginx does), within these bounds.
constexpr std::size_t kDrainLimit = 16 * 1024 * 1024;
constexpr auto kDrainTimeout = std::chrono::seconds(5);

std::string format_endpoint(const net::ip::address& address, std::uint16_t port) {
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
  return address.to_string() + ":" + std::to_string(port);
}

std::string remote_string(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  // Dual-stack listeners see IPv4 peers as ::ffff:a.b.c.d; logs and policies want a.b.c.d.
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).to_string();
  return address.to_string();
}

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

http::response<http::string_body> to_beast_response(HttpResponse&& in, unsigned version,
                                                     const std::string& server_name) {
  http::response<http::string_body> res;
  res.version(version);
  res.result(in.status >= 100 && in.status <= 599 ? static_cast<unsigned>(in.status) : 500u);
  res.set(http::field::content_type, in.content_type);
  for (auto& [name, value] : in.headers) {
    // Handler headers come from our code, but one carrying CR/LF would split the response.
    if (has_crlf(name) || has_crlf(value)) {
      spdlog::error("{} HTTP: dropped a response header with CR/LF in it", server_name);
      continue;
    }
    res.set(name, value);
  }
  res.body() = std::move(in.body);
  res.prepare_payload();
  return res;
}

HttpResponse error_response(int status, const std::string& reason) {
  return HttpResponse{status, "application/json", "{\"error\":\"" + reason + "\"}", {}};
}

struct SessionBase {
  virtual ~SessionBase() = default;
  virtual void stop() = 0;
};

// What the server object and its sessions share; sessions keep it alive, so they may
// outlive the HttpServer (stop() lets in-flight requests finish).
struct Shared {
  HttpServerOptions options;
  HttpHandler handler;
  std::shared_ptr<ConnectionLimiter> limiter;
  std::mutex mutex;
  bool stopping = false;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
};

template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  template <class... Args>
  Session(std::shared_ptr<Shared> shared, std::unique_ptr<ConnectionLimiter::Slot> slot, std::string remote,
          Args&&... stream_args)
      : shared_(std::move(shared)),
        slot_(std::move(slot)),
        remote_(std::move(remote)),
        stream_(std::forward<Args>(stream_args)...) {}

  ~Session() override {
    std::lock_guard lock(shared_->mutex);
    shared_->sessions.erase(this);
  }

  void run() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->on_run(); });
  }

  void stop() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->on_stop(); });
  }

 private:
  enum class Phase { handshake, reading, handling, writing, closing };

  auto& lowest() { return beast::get_lowest_layer(stream_); }
  const HttpServerOptions& options() const { return shared_->options; }

  void on_run() {
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->stopping) return;  // the socket closes with this Session
      shared_->sessions.emplace(this, this->weak_from_this());
    }
    slot_->on_reclaim([weak = this->weak_from_this()] {
      if (auto self = weak.lock()) net::post(self->stream_.get_executor(), [self] { self->on_reclaimed(); });
    });
    if constexpr (kTls) {
      phase_ = Phase::handshake;
      lowest().expires_after(kHandshakeTimeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              beast::bind_front_handler(&Session::on_handshake, this->shared_from_this()));
    } else {
      do_read();
    }
  }

  void on_stop() {
    stop_requested_ = true;
    // Idle between requests (nothing of the next one received yet): close now. A request
    // already arriving or being handled finishes and is answered with Connection: close.
    bool idle = phase_ == Phase::handshake ||
                (phase_ == Phase::reading && buffer_.size() == 0 && parser_ && !parser_->got_some());
    if (idle) lowest().cancel();
  }

  // The listener is full and gave this connection's place to a client from a less busy
  // address (app/http/connection_limits.hpp). Only a connection still waiting for its
  // request is closed; one whose request arrived meanwhile keeps its place.
  void on_reclaimed() {
    const bool waiting =
        phase_ == Phase::handshake || (phase_ == Phase::reading && parser_ && !parser_->is_header_done());
    if (!waiting) return slot_->reclaim_declined();
    spdlog::debug("{} HTTP: connection from {} closed to make room for another address", options().name, remote_);
    close_now();
  }

  void on_handshake(error_code ec) {
    if (ec) {
      spdlog::debug("{} HTTP: TLS handshake with {} failed: {}", options().name, remote_, ec.message());
      return close_now();
    }
    do_read();
  }

  void do_read() {
    if (stop_requested_) return close_gracefully();
    phase_ = Phase::reading;
    slot_->waiting();
    if (buffer_.capacity() < kReadChunk) buffer_.reserve(kReadChunk);
    parser_.emplace();
    parser_->header_limit(kHttpHeaderLimit);
    parser_->body_limit(options().max_body_bytes);
    if (first_request_) {
      first_request_ = false;
      return read_header(std::min(options().header_timeout, options().idle_timeout));
    }
    if (buffer_.size() > 0) return read_header(options().header_timeout);  // pipelined
    // Keep-alive: the next request may come within idle_timeout; its header's deadline
    // starts with its first octet.
    lowest().expires_after(options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunk), [self = this->shared_from_this()](error_code ec, std::size_t n) {
      self->buffer_.commit(n);
      if (ec) return self->on_read_error(ec);
      self->read_header(self->options().header_timeout);
    });
  }

  // Beast's deadline covers the whole header, however many reads it takes: it is not
  // pushed back by each octet that arrives.
  void read_header(std::chrono::seconds deadline) {
    lowest().expires_after(deadline);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, this->shared_from_this()));
  }

  void on_header(error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    slot_->busy();
    auto& req = parser_->get();
    // RFC 9110 §10.1.1: a client that sent Expect: 100-continue waits for our go-ahead
    // before sending the body (curl does this for large uploads). An oversized
    // Content-Length never gets here: Beast reports body_limit at the header.
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
      continue_.emplace(http::status::continue_, req.version());
      phase_ = Phase::writing;
      lowest().expires_after(options().idle_timeout);
      return http::async_write(stream_, *continue_,
                               beast::bind_front_handler(&Session::on_continue, this->shared_from_this()));
    }
    read_body();
  }

  void on_continue(error_code ec, std::size_t) {
    if (ec) return close_now();
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) return on_read({}, 0);
    phase_ = Phase::reading;
    lowest().expires_after(options().idle_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, this->shared_from_this()));
  }

  void on_read_error(error_code ec) {
    if (ec == http::error::body_limit) {
      return respond_and_drain(error_response(413, "request body too large"));
    }
    if (ec == http::error::header_limit) {
      return respond_and_drain(error_response(431, "request header fields too large"));
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return respond_and_drain(error_response(400, "malformed HTTP request"));
    }
    // End of stream, timeout, reset, cancelled by stop(): nothing to answer.
    // (net::error::eof: the peer closed while the connection waited for the next request.)
    if (ec == http::error::end_of_stream || ec == net::error::eof) return close_gracefully();
    close_now();
  }

  void on_read(error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    phase_ = Phase::handling;
    auto message = parser_->release();
    const unsigned version = message.version();
    const bool keep_alive = message.keep_alive();
    HttpRequest request = to_app_request(std::move(message), remote_);
    if (!options().handler_executor) {
      HttpResponse response = handle(request);
      return write(std::move(response), version, keep_alive && !stop_requested_, false);
    }
    // The handler may block (SQLite syncs, signing): off the I/O threads, which also carry
    // RADIUS. The work guard keeps io.run() going until the answer is back on our strand.
    auto back = net::make_work_guard(stream_.get_executor());
    net::post(options().handler_executor, [self = this->shared_from_this(), request = std::move(request), version,
                                           keep_alive, back = std::move(back)]() mutable {
      HttpResponse response = self->handle(request);
      auto strand = back.get_executor();
      net::post(strand, [self = std::move(self), response = std::move(response), version, keep_alive,
                         back = std::move(back)]() mutable {
        self->write(std::move(response), version, keep_alive && !self->stop_requested_, false);
      });
    });
  }

  HttpResponse handle(const HttpRequest& request) const {
    HttpResponse response;
    try {
      response = shared_->handler(request);
    } catch (const std::exception& e) {
      // The exception text may name the failing resource; the request body never goes
      // into logs (it may hold CSRs, tokens in JSON, …).
      spdlog::error("{} HTTP: {} {} from {} failed: {}", options().name, request.method, request.path, remote_,
                    e.what());
      response = error_response(500, "internal server error");
    } catch (...) {
      spdlog::error("{} HTTP: {} {} from {} failed with a non-standard exception", options().name, request.method,
                    request.path, remote_);
      response = error_response(500, "internal server error");
    }
    spdlog::debug("{} HTTP: {} {} {} -> {}", options().name, remote_, request.method, request.path, response.status);
    return response;
  }

  void write(HttpResponse&& response, unsigned version, bool keep_alive, bool drain) {
    response_.emplace(to_beast_response(std::move(response), version, options().name));
    response_->keep_alive(keep_alive);
    phase_ = Phase::writing;
    lowest().expires_after(options().idle_timeout);
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&Session::on_write, this->shared_from_this(), keep_alive, drain));
  }

  // An error answer after which the connection closes (the request framing is unreliable).
  void respond_and_drain(HttpResponse&& response) {
    const unsigned version = parser_ ? parser_->get().version() : 11;
    write(std::move(response), version ? version : 11, false, true);
  }

  void on_write(bool keep_alive, bool drain, error_code ec, std::size_t) {
    response_.reset();
    if (ec) return close_now();
    if (drain) return start_drain();
    if (!keep_alive) return close_gracefully();
    do_read();
  }

  void start_drain() {
    phase_ = Phase::closing;
    error_code ignored;
    // FIN after our response: the client sees the end of the answer; what it still sends
    // is read below and dropped. Under TLS this skips close_notify, which is harmless
    // because the response is delimited by Content-Length.
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest().expires_after(kDrainTimeout);
    drain();
  }

  void drain() {
    lowest().async_read_some(net::buffer(drain_buffer_), [self = this->shared_from_this()](error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kDrainLimit) return self->close_now();
      self->drain();
    });
  }

  void close_gracefully() {
    phase_ = Phase::closing;
    if constexpr (kTls) {
      // Send close_notify (RFC 8446 §6.1); the peer often just closes, which is fine.
      lowest().expires_after(kShutdownTimeout);
      stream_.async_shutdown([self = this->shared_from_this()](error_code) { self->close_now(); });
    } else {
      error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      close_now();
    }
  }

  void close_now() {
    phase_ = Phase::closing;
    lowest().close();
  }

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<ConnectionLimiter::Slot> slot_;  // this connection's place under the caps
  std::string remote_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  Phase phase_ = Phase::reading;
  bool first_request_ = true;
  bool stop_requested_ = false;
  std::array<char, 16 * 1024> drain_buffer_{};
  std::size_t drained_ = 0;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(net::io_context& context, std::shared_ptr<Shared> state)
      : ioc(context), shared(std::move(state)), acceptor(net::make_strand(context)), retry_timer(acceptor.get_executor()) {}

  void do_accept() {
    // The peer's address comes with the accept itself (no getpeername per connection).
    // One accept is outstanding at a time, so one endpoint member serves them all.
    acceptor.async_accept(net::make_strand(ioc), peer,
                          beast::bind_front_handler(&Impl::on_accept, shared_from_this()));
  }

  void on_accept(error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning on the error.
      spdlog::warn("{} HTTP: accept failed: {}", shared->options.name, ec.message());
      retry_timer.expires_after(std::chrono::milliseconds(100));
      retry_timer.async_wait([self = shared_from_this()](error_code wait_ec) {
        if (!wait_ec && self->acceptor.is_open()) self->do_accept();
      });
      return;
    }
    {
      std::lock_guard lock(shared->mutex);
      if (shared->stopping) return;
    }
    if (auto slot = shared->limiter->try_acquire(peer.address())) {
      start_session(std::move(socket), std::move(slot));
    } else {
      refuse(socket);
    }
    do_accept();
  }

  void start_session(tcp::socket socket, std::unique_ptr<ConnectionLimiter::Slot> slot) {
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::string remote = remote_string(peer);
    if (shared->options.tls) {
      using TlsStream = beast::ssl_stream<beast::tcp_stream>;
      std::make_shared<Session<TlsStream>>(shared, std::move(slot), std::move(remote), std::move(socket),
                                           *shared->options.tls)
          ->run();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(shared, std::move(slot), std::move(remote), std::move(socket))->run();
    }
  }

  // Over a cap: closed at once, before any read, TLS or allocation for it. Logged at the
  // 1st, 2nd, 4th, 8th… refusal, so that a flood cannot flood the log as well.
  void refuse(tcp::socket& socket) {
    error_code ignored;
    socket.close(ignored);
    const auto& limiter = *shared->limiter;
    const std::uint64_t refused = limiter.refused_total_cap() + limiter.refused_address_cap();
    if ((refused & (refused - 1)) == 0) {
      spdlog::warn("{} HTTP: connection from {} refused: {} open, {} refused so far ({} at the listener's cap, {} at "
                   "the per-address cap)",
                   shared->options.name, remote_string(peer), limiter.open(), refused, limiter.refused_total_cap(),
                   limiter.refused_address_cap());
    }
  }

  net::io_context& ioc;
  std::shared_ptr<Shared> shared;
  tcp::acceptor acceptor;
  tcp::endpoint peer;  // filled in by the pending accept
  net::steady_timer retry_timer;
  std::atomic<std::uint16_t> port{0};
  bool started = false;
};

HttpServer::HttpServer(net::io_context& ioc, HttpServerOptions options, HttpHandler handler) {
  auto shared = std::make_shared<Shared>();
  shared->limiter = ConnectionLimiter::create(options.caps);
  shared->options = std::move(options);
  shared->handler = std::move(handler);
  impl_ = std::make_shared<Impl>(ioc, std::move(shared));
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  if (impl_->started) throw std::logic_error("HttpServer::start called twice");
  const auto& options = impl_->shared->options;
  error_code ec;
  auto address = net::ip::make_address(options.bind_address, ec);
  if (ec) throw std::runtime_error("invalid bind address '" + options.bind_address + "' for the " + options.name +
                                   " HTTP listener");
  const std::string where = format_endpoint(address, options.port);
  auto fail = [&](const char* step) {
    throw std::runtime_error("cannot " + std::string(step) + " the " + options.name + " HTTP listener on " + where +
                             ": " + ec.message());
  };
  tcp::endpoint endpoint(address, options.port);
  auto& acceptor = impl_->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) fail("open");
  if (acceptor.set_option(net::socket_base::reuse_address(true), ec); ec) fail("configure");
  if (acceptor.bind(endpoint, ec); ec) fail("bind");
  if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec) fail("listen on");
  impl_->port = acceptor.local_endpoint(ec).port();
  impl_->started = true;
  spdlog::info("{} HTTP listener on {}{}", options.name, format_endpoint(address, impl_->port),
               options.tls ? " (TLS)" : "");
  // The first accept is posted onto the acceptor's strand, like all later ones.
  net::post(acceptor.get_executor(), [impl = impl_] { impl->do_accept(); });
}

std::uint16_t HttpServer::port() const { return impl_->port; }

HttpServerStats HttpServer::stats() const {
  const auto& limiter = *impl_->shared->limiter;
  return HttpServerStats{limiter.open(), limiter.refused_total_cap(), limiter.refused_address_cap(),
                         limiter.reclaimed()};
}

void HttpServer::stop() {
  std::vector<std::weak_ptr<SessionBase>> sessions;
  {
    std::lock_guard lock(impl_->shared->mutex);
    if (impl_->shared->stopping) return;
    impl_->shared->stopping = true;
    for (auto& [ptr, weak] : impl_->shared->sessions) sessions.push_back(weak);
  }
  // The acceptor is only touched on its strand; closing it aborts the pending accept.
  net::post(impl_->acceptor.get_executor(), [impl = impl_] {
    error_code ignored;
    impl->acceptor.close(ignored);
    impl->retry_timer.cancel();
  });
  for (auto& weak : sessions)
    if (auto session = weak.lock()) session->stop();
}

}  // namespace portcullis::app
