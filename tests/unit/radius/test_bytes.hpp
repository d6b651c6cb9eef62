// Small helpers shared by the radius unit tests.
#pragma once

#include "radius/packet.hpp"

#include <cctype>
#include <stdexcept>
#include <string_view>

namespace portcullis::radius::test {

// "01 0a ff" or "010aff" -> bytes.
inline Bytes hex(std::string_view text) {
  Bytes out;
  int hi = -1;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    if (v < 0 || v > 15) throw std::invalid_argument("bad hex");
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

inline Bytes pattern(std::size_t n, std::uint8_t seed = 1) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
  return b;
}

inline Authenticator authenticator_from(std::string_view text) {
  const Bytes b = hex(text);
  Authenticator a{};
  if (b.size() != a.size()) throw std::invalid_argument("authenticator must be 16 octets");
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

}  // namespace portcullis::radius::test
