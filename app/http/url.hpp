// An http:// or https:// URL taken apart for app/http/client: scheme, host, port, target.
#pragma once

#include <cstdint>
#include <string>

namespace portcullis::app {

struct HttpUrl {
  bool tls = false;
  std::string host;          // without the brackets of an IPv6 literal
  std::uint16_t port = 0;    // 80 or 443 unless given
  std::string target = "/";  // path and query
};

// Throws std::invalid_argument naming what is wrong (scheme, host, port).
HttpUrl parse_http_url(const std::string& url);

}  // namespace portcullis::app
