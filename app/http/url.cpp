#include "app/http/url.hpp"

#include <charconv>
#include <stdexcept>
#include <string_view>

namespace portcullis::app {

HttpUrl parse_http_url(const std::string& url) {
  HttpUrl u;
  std::string_view rest(url);
  if (rest.starts_with("https://")) {
    u.tls = true;
    u.port = 443;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    u.port = 80;
    rest.remove_prefix(7);
  } else {
    throw std::invalid_argument("URL must start with http:// or https://");
  }
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) u.target = std::string(rest.substr(slash));
  if (authority.find('@') != std::string_view::npos) throw std::invalid_argument("URL must not carry credentials");
  // "[::1]:8080", "host:8080", "host"
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("URL has an unclosed '[' in the host");
    u.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw std::invalid_argument("URL has a bad host");
      port_text = authority.substr(close + 2);
      if (port_text.empty()) throw std::invalid_argument("URL has a bad port");
    }
  } else {
    const auto colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) throw std::invalid_argument("URL has a bad port");
    }
  }
  if (u.host.empty()) throw std::invalid_argument("URL has no host");
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
      throw std::invalid_argument("URL has a bad port");
    u.port = static_cast<std::uint16_t>(port);
  }
  return u;
}

}  // namespace portcullis::app
