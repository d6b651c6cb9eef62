#include "ca/hex.hpp"

#include <openssl/crypto.h>

#include <stdexcept>

namespace portcullis::ca {
namespace {

std::string hex_with(std::span<const std::uint8_t> bytes, const char (&digits)[17]) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0x0F];
  }
  return out;
}

}  // namespace

std::string to_hex(std::span<const std::uint8_t> bytes) { return hex_with(bytes, "0123456789ABCDEF"); }

std::string to_lower_hex(std::span<const std::uint8_t> bytes) { return hex_with(bytes, "0123456789abcdef"); }

int hex_digit_value(char c) { return OPENSSL_hexchar2int(static_cast<unsigned char>(c)); }

bool from_hex(std::string_view hex, std::span<std::uint8_t> out) {
  if (hex.size() != 2 * out.size()) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_digit_value(hex[2 * i]);
    const int lo = hex_digit_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::vector<std::uint8_t> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) throw std::invalid_argument("hex string has odd length");
  std::vector<std::uint8_t> out(hex.size() / 2);
  if (!from_hex(hex, out)) throw std::invalid_argument("invalid hex digit");
  return out;
}

}  // namespace portcullis::ca
