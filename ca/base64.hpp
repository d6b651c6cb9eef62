// RFC 4648 base64, on OpenSSL's block codec: the standard alphabet (§4) for OCSP GET
// requests, MDM profiles and SCEP messages, the URL-safe one (§5) for generated secrets and
// the SCEP clients that send it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace portcullis::ca {

std::string base64_encode(std::span<const std::uint8_t> bytes);      // §4, padded
std::string base64url_encode(std::span<const std::uint8_t> bytes);   // §5, no padding

enum class Base64Alphabet {
  standard,  // §4 only: '+' and '/'
  url_safe,  // §5 only: '-' and '_'
  either,    // both, even mixed (SCEP GET: clients differ in what they send)
};

enum class Base64Strictness {
  // Padding is optional (§3.2 allows leaving it out when the length is known) but when
  // present it must complete the last quantum; the bits after the last octet must be zero
  // (§3.5, the canonical encoding), so one byte string has exactly one accepted text.
  canonical,
  // Any number of trailing '=' and non-zero bits after the last octet are accepted: for
  // text whose integrity something else protects (a SCEP message's CMS signature), where
  // refusing a sloppy encoder's output gains nothing.
  lenient,
};

// No whitespace or other characters outside the alphabet in either mode. nullopt on bad input.
std::optional<std::string> base64_decode(std::string_view text, Base64Alphabet alphabet = Base64Alphabet::standard,
                                         Base64Strictness strictness = Base64Strictness::canonical);

}  // namespace portcullis::ca
