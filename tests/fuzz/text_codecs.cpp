// The shared text codecs: percent-decoding and query/path splitting (ca/text_codec),
// base64 in its three alphabets (ca/base64, RFC 4648 §4/§5) and hex (ca/hex). Each decoder
// must agree with its encoder: what decodes re-encodes to the same octets.
#include "ca/base64.hpp"
#include "ca/hex.hpp"
#include "ca/text_codec.hpp"

#include <stdexcept>
#include <string_view>

using namespace portcullis::ca;

namespace {

std::span<const std::uint8_t> octets(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

void check_base64(std::string_view text) {
  for (Base64Alphabet alphabet : {Base64Alphabet::standard, Base64Alphabet::url_safe, Base64Alphabet::either}) {
    const auto decoded = base64_decode(text, alphabet);
    if (!decoded) continue;
    // Every encoding decodes back to what it encoded.
    const auto again = base64_decode(base64_encode(octets(*decoded)), Base64Alphabet::standard);
    if (!again || *again != *decoded) __builtin_trap();
    const auto url = base64_decode(base64url_encode(octets(*decoded)), Base64Alphabet::url_safe);
    if (!url || *url != *decoded) __builtin_trap();
  }
}

void check_hex(std::string_view text) {
  std::vector<std::uint8_t> bytes;
  bool thrown = false;
  try {
    bytes = from_hex(text);
  } catch (const std::invalid_argument&) {
    thrown = true;
  }
  if (!thrown && (from_hex(to_hex(bytes)) != bytes || from_hex(to_lower_hex(bytes)) != bytes)) __builtin_trap();
  // The allocating and the non-allocating decoders accept the same texts.
  std::vector<std::uint8_t> out(text.size() / 2);
  const bool ok = from_hex(text, out);
  if (ok == thrown || (ok && out != bytes)) __builtin_trap();
  for (char c : text) (void)hex_digit_value(c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)percent_decode(text, false);
  (void)percent_decode(text, true);
  for (const auto& [k, v] : split_query(text)) {
    if (k.data() < text.data() || v.data() + v.size() > text.data() + text.size()) __builtin_trap();
  }
  (void)parse_query(text);
  (void)split_path(text);
  check_base64(text);
  check_hex(text);
  return 0;
}
