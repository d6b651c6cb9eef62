#include "ca/serial_text.hpp"

#include "ca/hex.hpp"

namespace portcullis::ca::detail {
namespace {

constexpr char kDigits[] = "0123456789ABCDEF";

}  // namespace

std::optional<std::string> canonical_serial_hex(std::string_view hex) {
  if (hex.empty()) return std::nullopt;
  std::string out;
  out.reserve(hex.size() + 1);
  bool leading = true;
  for (char c : hex) {
    const int v = hex_digit_value(c);
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
    const int v = hex_digit_value(c);
    if (v < 0) return std::nullopt;
    c = kDigits[v];
  }
  return out;
}

}  // namespace portcullis::ca::detail
