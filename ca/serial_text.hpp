// Text forms of serial numbers and fingerprints, shared by the ledger and the index so
// that "0a1b", "0A1B" and "000A1B" all name the same certificate. Private to ca/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace portcullis::ca::detail {

// RFC 5280 §4.1.2.2: serial numbers are positive and at most 20 octets.
inline constexpr std::size_t kMaxSerialOctets = 20;
inline constexpr std::size_t kFingerprintOctets = 32;  // SHA-256

// The canonical text of a serial: uppercase hex of the big-endian magnitude, even length,
// no leading zero octet (exactly what ca::serial_hex prints). nullopt when `hex` is empty,
// not hex, zero, or longer than 20 octets.
std::optional<std::string> canonical_serial_hex(std::string_view hex);

// 64 hex digits in either case -> uppercase; nullopt otherwise.
std::optional<std::string> canonical_fingerprint_hex(std::string_view hex);

}  // namespace portcullis::ca::detail
