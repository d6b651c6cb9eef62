#include "app/secrets.hpp"

#include "ca/base64.hpp"
#include "ca/x509.hpp"

namespace portcullis::app {

std::string generate_secret(std::size_t bytes) { return ca::base64url_encode(ca::random_bytes(bytes)); }

std::string generate_hex_secret(std::size_t bytes) { return ca::to_hex(ca::random_bytes(bytes)); }

std::string sha256_hex(std::string_view data) {
  return ca::sha256_lower_hex({reinterpret_cast<const std::uint8_t*>(data.data()), data.size()});
}

}  // namespace portcullis::app
