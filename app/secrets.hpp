// Random secrets (admin tokens, RADIUS shared secrets) and their stored form.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace portcullis::app {

// `bytes` from the CSPRNG, base64url without padding (safe in TOML, HTTP headers, shells).
std::string generate_secret(std::size_t bytes = 32);
// Lowercase hex SHA-256: how admin tokens are stored in the config (never the token itself).
std::string sha256_hex(std::string_view data);
// Constant-time equality for secrets of equal or unequal length.
bool secrets_equal(std::string_view a, std::string_view b);

}  // namespace portcullis::app
