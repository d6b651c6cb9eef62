// Random secrets (admin tokens, RADIUS shared secrets) and their stored form.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace portcullis::app {

// `bytes` from the CSPRNG, base64url without padding (safe in TOML, HTTP headers, shells).
std::string generate_secret(std::size_t bytes = 32);
// `bytes` from the CSPRNG, uppercase hex: for values typed into other systems' forms and
// CLIs (RADIUS shared secrets on a NAS, SCEP challengePasswords, which are PrintableString
// with no '_'), where a leading '-' reads as an option and punctuation is often refused.
std::string generate_hex_secret(std::size_t bytes);
// Lowercase hex SHA-256: how admin tokens are stored in the config (never the token itself).
std::string sha256_hex(std::string_view data);

}  // namespace portcullis::app
