// An http:// or https:// URL taken apart for app/http/client: scheme, host, port, target.
// Webhook URLs ([notify] webhook_url, [[scep.webhooks]] url) are checked with it when the
// config is loaded, so a URL the service could not use stops it at start with the reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace portcullis::app {

struct HttpUrl {
  bool tls = false;
  std::string host;          // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;    // 80 or 443 unless given
  std::string target = "/";  // path and query
};

// "http://host[:port][/path][?query]" or "https://…" (RFC 3986 §3). Throws
// std::invalid_argument, its message saying what is wrong and starting with "must" or
// "has", for anything else: another scheme, no host, a bad port, credentials (they would
// reach logs), spaces or control characters, a fragment.
HttpUrl parse_http_url(std::string_view url);

// Percent-encodes one path segment, query value or form field (RFC 3986 §2.1: the
// unreserved characters are kept, every other octet becomes %XX).
std::string url_encode(std::string_view value);

}  // namespace portcullis::app
