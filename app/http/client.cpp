// Synchronous in interface, asynchronous inside: beast::tcp_stream timeouts only apply to
// asynchronous operations, so each step (connect, handshake, write, read) is started
// asynchronously on a private io_context and run to completion before the next one.
#include "app/http/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <optional>
#include <stdexcept>

namespace portcullis::app {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// A listing of many devices or certificates can be large, but not unbounded.
constexpr std::uint64_t kResponseBodyLimit = 64ull * 1024 * 1024;

// Each step's timer: the per-step timeout, cut short by the overall deadline.
void arm(beast::tcp_stream& stream, const HttpClientOptions& options) {
  auto at = std::chrono::steady_clock::now() + options.timeout;
  if (options.deadline && *options.deadline < at) at = *options.deadline;
  stream.expires_at(at);
}

template <class Start>
error_code run_step(net::io_context& ioc, Start&& start) {
  error_code result = net::error::would_block;
  start([&result](error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

std::string host_port(const HttpClientOptions& options) {
  if (options.host.find(':') != std::string::npos) return "[" + options.host + "]:" + std::to_string(options.port);
  return options.host + ":" + std::to_string(options.port);
}

std::string describe(const error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

template <class Stream>
HttpClientResponse exchange(net::io_context& ioc, Stream& stream, const HttpClientOptions& options,
                            http::request<http::string_body>& request) {
  auto& lowest = beast::get_lowest_layer(stream);
  arm(lowest, options);
  error_code write_ec = run_step(ioc, [&](auto handler) { http::async_write(stream, request, handler); });
  if (write_ec == beast::error::timeout)
    throw std::runtime_error("sending the request to " + host_port(options) + " timed out");
  // Even when the write failed (the server answered early, e.g. 413, and closed), the
  // answer may be waiting to be read; report the write error only if there is none.
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kResponseBodyLimit);
  arm(lowest, options);
  error_code read_ec = run_step(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
  if (read_ec) {
    const error_code& ec = write_ec ? write_ec : read_ec;
    throw std::runtime_error("no HTTP response from " + host_port(options) + ": " + describe(ec));
  }
  const auto& message = parser.get();
  HttpClientResponse response;
  response.status = static_cast<int>(message.result_int());
  response.content_type = std::string(message[http::field::content_type]);
  response.body = message.body();
  return response;
}

}  // namespace

namespace {

bool has_crlf(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

http::request<http::string_body> build_request(const HttpClientOptions& options, const std::string& method,
                                               const std::string& target, const HttpHeaders& headers,
                                               const std::string& body) {
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) throw std::invalid_argument("unknown HTTP method '" + method + "'");
  if (has_crlf(target)) throw std::invalid_argument("HTTP target contains CR/LF");
  http::request<http::string_body> request{verb, target, 11};
  request.set(http::field::host, host_port(options));
  request.set(http::field::user_agent, "portcullis-cli");
  for (const auto& [name, value] : headers) {
    // A value with CR/LF (a token pasted with its newline) would split the request.
    if (has_crlf(name) || has_crlf(value)) throw std::invalid_argument("HTTP header '" + name + "' contains CR/LF");
    request.set(name, value);
  }
  request.keep_alive(false);
  request.body() = body;
  if (!body.empty() || verb == http::verb::post || verb == http::verb::put) request.prepare_payload();
  return request;
}

void load_client_tls_context(net::ssl::context& context, const HttpClientOptions& options) {
  if (options.ca_file.empty())
    throw std::runtime_error("TLS to " + host_port(options) + " needs a CA file to verify the server");
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  context.set_verify_mode(net::ssl::verify_peer);
  error_code ec;
  context.load_verify_file(options.ca_file, ec);
  if (ec) throw std::runtime_error("cannot load CA file '" + options.ca_file + "': " + ec.message());
}

// The name (or address) the server's certificate must carry, and the SNI.
void expect_server_identity(SSL* ssl, const std::string& host) {
  if (is_ip_literal(host)) {
    // An IP literal is matched against iPAddress SANs (RFC 6125 §6.2.1 covers names only;
    // RFC 5280 §4.2.1.6 the IP form), and RFC 6066 §3 forbids it in SNI.
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1)
      throw std::runtime_error("cannot set the expected IP address '" + host + "'");
  } else {
    if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1)
      throw std::runtime_error("cannot set the expected host name '" + host + "'");
  }
}

void tls_handshake(net::io_context& ioc, beast::ssl_stream<beast::tcp_stream>& stream, const HttpClientOptions& options) {
  arm(beast::get_lowest_layer(stream), options);
  error_code handshake_ec =
      run_step(ioc, [&](auto handler) { stream.async_handshake(net::ssl::stream_base::client, handler); });
  if (handshake_ec) {
    std::string reason = describe(handshake_ec);
    long verify = SSL_get_verify_result(stream.native_handle());
    if (verify != X509_V_OK) reason = std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
    throw std::runtime_error("TLS handshake with " + host_port(options) + " failed: " + reason);
  }
}

}  // namespace

HttpClientResponse http_request(const HttpClientOptions& given, const std::string& method,
                                const std::string& target, const HttpHeaders& headers, const std::string& body) {
  HttpClientOptions options = given;
  // "[::1]" as people write it in URLs; the resolver and the certificate check want "::1".
  if (options.host.size() > 2 && options.host.front() == '[' && options.host.back() == ']')
    options.host = options.host.substr(1, options.host.size() - 2);
  http::request<http::string_body> request = build_request(options, method, target, headers, body);

  net::io_context ioc;
  tcp::resolver resolver(ioc);
  error_code ec;
  auto endpoints = resolver.resolve(options.host, std::to_string(options.port), ec);
  if (ec) throw std::runtime_error("cannot reach " + options.peer + " at " + host_port(options) + ": " + ec.message());

  auto connect = [&](beast::tcp_stream& tcp_stream) {
    arm(tcp_stream, options);
    error_code connect_ec =
        run_step(ioc, [&](auto handler) { tcp_stream.async_connect(endpoints, handler); });
    if (connect_ec)
      throw std::runtime_error("cannot reach " + options.peer + " at " + host_port(options) + ": " + describe(connect_ec));
  };

  if (!options.tls) {
    beast::tcp_stream stream(ioc);
    connect(stream);
    HttpClientResponse response = exchange(ioc, stream, options, request);
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return response;
  }

  net::ssl::context context(net::ssl::context::tls_client);
  load_client_tls_context(context, options);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, context);
  expect_server_identity(stream.native_handle(), options.host);
  connect(beast::get_lowest_layer(stream));
  tls_handshake(ioc, stream, options);
  // No close_notify round trip: the response is complete by its Content-Length and the
  // connection is closed right after.
  return exchange(ioc, stream, options, request);
}

}  // namespace portcullis::app
