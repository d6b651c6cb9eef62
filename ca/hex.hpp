// Hexadecimal text of octet strings: serials, fingerprints, digests, bytes stored in the
// ledger. The one hex codec of the code base; every layer above ca/ uses it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::ca {

std::string to_hex(std::span<const std::uint8_t> bytes);         // uppercase, no separators
std::string to_lower_hex(std::span<const std::uint8_t> bytes);   // lowercase, no separators

// Either case. Throws std::invalid_argument on an odd length or a non-hex character.
std::vector<std::uint8_t> from_hex(std::string_view hex);
// Exactly out.size() octets from 2 * out.size() hex digits (either case), without
// allocating; false (and `out` unspecified) otherwise.
bool from_hex(std::string_view hex, std::span<std::uint8_t> out);

// 0..15 for a hex digit of either case, -1 for anything else.
int hex_digit_value(char c);

}  // namespace portcullis::ca
