#include "ca/base64.hpp"

#include <openssl/evp.h>

#include <climits>
#include <stdexcept>

namespace portcullis::ca {
namespace {

constexpr std::string_view kStandard = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// `c` in the standard alphabet (what EVP_DecodeBlock reads), or '\0' when the alphabet
// does not have it.
char standard_char(char c, Base64Alphabet alphabet) {
  const bool url = c == '-' || c == '_';
  const bool std_only = c == '+' || c == '/';
  if (url) return alphabet == Base64Alphabet::standard ? '\0' : (c == '-' ? '+' : '/');
  if (std_only) return alphabet == Base64Alphabet::url_safe ? '\0' : c;
  return kStandard.substr(0, 62).find(c) == std::string_view::npos ? '\0' : c;
}

// §3.5: with 2 (3) characters in the last quantum, the low 4 (2) bits of the last one
// carry no data and must be zero.
bool canonical_tail(std::string_view normalised) {
  const std::size_t tail = normalised.size() % 4;
  if (tail == 0) return true;
  const auto value = static_cast<unsigned>(kStandard.find(normalised.back()));
  return (value & (tail == 2 ? 0x0Fu : 0x03u)) == 0;
}

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX / 4 * 3)) throw std::length_error("base64: input too large");
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // EVP_EncodeBlock writes a NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64url_encode(std::span<const std::uint8_t> bytes) {
  std::string out = base64_encode(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text, Base64Alphabet alphabet, Base64Strictness strictness) {
  const bool canonical = strictness == Base64Strictness::canonical;
  std::size_t pad = 0;
  while (!text.empty() && text.back() == '=' && (pad < 2 || !canonical)) {
    text.remove_suffix(1);
    ++pad;
  }
  if ((canonical && pad > 0 && (text.size() + pad) % 4 != 0) || text.size() % 4 == 1) return std::nullopt;
  if (text.size() > static_cast<std::size_t>(INT_MAX) - 3) return std::nullopt;
  std::string normalised;
  normalised.reserve(text.size() + 3);
  for (const char c : text) {
    const char s = standard_char(c, alphabet);
    if (s == '\0') return std::nullopt;
    normalised.push_back(s);
  }
  if (canonical && !canonical_tail(normalised)) return std::nullopt;
  const std::size_t missing = (4 - normalised.size() % 4) % 4;
  normalised.append(missing, '=');
  std::string out(normalised.size() / 4 * 3, '\0');
  // Counts the octets of every quantum, padding included; the input is checked above.
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(normalised.data()), static_cast<int>(normalised.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - missing);
  return out;
}

}  // namespace portcullis::ca
