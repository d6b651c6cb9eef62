#include "ca/serial_text.hpp"

namespace portcullis::ca::detail {
namespace {

int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char kDigits[] = "0123456789ABCDEF";

}  // namespace

std::optional<std::string> canonical_serial_hex(std::string_view hex) {
  if (hex.empty()) return std::nullopt;
  std::string out;
  out.reserve(hex.size() + 1);
  bool leading = true;
  for (char c : hex) {
    const int v = nibble(c);
    if (v < 0) return std::nullopt;
    if (leading && v == 0) continue;
    leading = false;
    out.push_back(kDigits[v]);
  }
  if (out.empty()) return std::nullopt;  // zero is not a valid serial
  if (out.size() % 2 != 0) out.insert(out.begin(), '0');
  if (out.size() > 2 * kMaxSerialOctets) return std::nullopt;
  return out;
}

std::optional<std::string> canonical_fingerprint_hex(std::string_view hex) {
  if (hex.size() != 2 * kFingerprintOctets) return std::nullopt;
  std::string out(hex);
  for (char& c : out) {
    const int v = nibble(c);
    if (v < 0) return std::nullopt;
    c = kDigits[v];
  }
  return out;
}

bool decode_hex(std::string_view hex, std::span<std::uint8_t> out) {
  if (hex.size() != 2 * out.size()) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return true;
}

std::string encode_hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0F]);
  }
  return out;
}

}  // namespace portcullis::ca::detail
