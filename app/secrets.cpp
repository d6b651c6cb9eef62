#include "app/secrets.hpp"

#include "ca/base64.hpp"
#include "ca/x509.hpp"

#include <openssl/crypto.h>

namespace portcullis::app {

std::string generate_secret(std::size_t bytes) { return ca::base64url_encode(ca::random_bytes(bytes)); }

std::string generate_hex_secret(std::size_t bytes) { return ca::to_hex(ca::random_bytes(bytes)); }

std::string sha256_hex(std::string_view data) {
  return ca::sha256_lower_hex({reinterpret_cast<const std::uint8_t*>(data.data()), data.size()});
}

bool secrets_equal(std::string_view a, std::string_view b) {
  // Compare digests so that neither the content nor the length leaks through timing.
  const std::string da = sha256_hex(a), db = sha256_hex(b);
  return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

}  // namespace portcullis::app
