// A small synchronous HTTP/1.1 client for the CLI, which talks to the running service's
// admin API (and for tests). One request per connection. With TLS the peer certificate is
// always verified against ca_file and the host name checked: there is no way to turn
// verification off.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace portcullis::app {

struct HttpClientOptions {
  std::string host = "127.0.0.1";       // name or IP literal; checked against the certificate
  std::uint16_t port = 0;
  bool tls = false;
  std::string ca_file;                  // PEM bundle that must anchor the server's chain (TLS)
  std::chrono::seconds timeout{30};     // per step: connect, handshake, write, read
  // When set, no step runs past it either: the whole exchange ends by then (a webhook
  // asked while a SCEP worker waits). Name resolution is not bounded by it.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::string peer = "admin API";       // what "cannot reach <peer> at host:port" names
};

struct HttpClientResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Throws std::runtime_error("cannot reach <peer> at host:port: …") when the connection
// cannot be made, and std::runtime_error with the reason for TLS, timeout and protocol
// failures. Any HTTP status (4xx, 5xx too) is returned, not thrown.
HttpClientResponse http_request(const HttpClientOptions& options, const std::string& method,
                                const std::string& target, const HttpHeaders& headers = {},
                                const std::string& body = {});

}  // namespace portcullis::app
