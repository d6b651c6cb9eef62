// Equality of secrets and MACs (RADIUS authenticators, Message-Authenticator, admin token
// hashes, SCEP challenge passwords) in time that does not depend on where they differ, so
// that a peer cannot find a valid value byte by byte. Header only: the RADIUS codec uses it
// without linking the rest of ca/.
#pragma once

#include <openssl/crypto.h>

#include <cstdint>
#include <span>
#include <string_view>

namespace portcullis::ca {

// CRYPTO_memcmp over equal lengths; false at once when the lengths differ (every caller's
// lengths are public: digest and authenticator sizes, or a length it does not hide).
inline bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

inline bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace portcullis::ca
