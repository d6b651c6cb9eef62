#include "app/http/url.hpp"

#include "ca/hex.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace portcullis::app {
namespace {

std::uint16_t port_of(std::string_view text) {
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535)
    throw std::invalid_argument("has a bad port (1..65535)");
  return static_cast<std::uint16_t>(port);
}

// "[::1]:8080", "host:8080", "host" into t.host and t.port.
void split_authority(std::string_view authority, HttpUrl& t) {
  if (authority.find('@') != std::string_view::npos)
    throw std::invalid_argument("must not hold credentials (user@host): they would be logged");
  std::string_view port_text;
  bool has_port = false;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("has an unclosed '[' in the host");
    t.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw std::invalid_argument("has a bad host");
      port_text = authority.substr(close + 2);
      has_port = true;
    }
  } else {
    const auto colon = authority.find(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (t.host.empty()) throw std::invalid_argument("has no host (http://host[:port]/path)");
  if (has_port) t.port = port_of(port_text);
}

}  // namespace

HttpUrl parse_http_url(std::string_view url) {
  const bool unprintable = std::any_of(url.begin(), url.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
  if (unprintable) throw std::invalid_argument("must not hold spaces or control characters");
  HttpUrl t;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    t.tls = true;
    t.port = 443;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    t.port = 80;
    rest.remove_prefix(7);
  } else {
    throw std::invalid_argument("must start with http:// or https://");
  }
  if (rest.find('#') != std::string_view::npos) throw std::invalid_argument("must not have a #fragment");
  const auto end = std::min(rest.find('/'), rest.find('?'));
  split_authority(rest.substr(0, end), t);
  t.target = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (t.target.starts_with('?')) t.target.insert(0, "/");
  return t;
}

std::string url_encode(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
      out.push_back(static_cast<char>(c));
    else
      out += "%" + ca::to_hex(std::span<const std::uint8_t>(&c, 1));
  }
  return out;
}

}  // namespace portcullis::app
