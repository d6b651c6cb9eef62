#include "radius/digest.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include <stdexcept>

namespace portcullis::radius {
namespace {

// Fetching an algorithm is a provider lookup; do it once per process (OpenSSL 3 fetched
// objects are immutable and safe to share between threads).
const EVP_MD* md5_algorithm() {
  static const EvpMdPtr md{EVP_MD_fetch(nullptr, "MD5", nullptr)};
  if (!md) throw std::runtime_error("OpenSSL: MD5 is not available (default provider not loaded?)");
  return md.get();
}

EVP_MAC* hmac_algorithm() {
  static const EvpMacPtr mac{EVP_MAC_fetch(nullptr, "HMAC", nullptr)};
  if (!mac) throw std::runtime_error("OpenSSL: HMAC is not available");
  return mac.get();
}

}  // namespace

Digest16 md5(std::initializer_list<ByteView> parts) {
  EvpMdCtxPtr ctx{EVP_MD_CTX_new()};
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), md5_algorithm(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: MD5 init failed");
  for (ByteView p : parts) {
    if (!p.empty() && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1)
      throw std::runtime_error("OpenSSL: MD5 update failed");
  }
  Digest16 out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size())
    throw std::runtime_error("OpenSSL: MD5 final failed");
  return out;
}

Digest16 hmac_md5(ByteView key, std::initializer_list<ByteView> parts) {
  EvpMacCtxPtr ctx{EVP_MAC_CTX_new(hmac_algorithm())};
  if (!ctx) throw std::runtime_error("OpenSSL: HMAC context allocation failed");
  char digest_name[] = "MD5";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  // An empty shared secret is rejected by the client table long before this point; a
  // zero-length key would still be a valid HMAC key, but OpenSSL wants a non-null pointer.
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* key_ptr = key.empty() ? &kEmpty : key.data();
  if (EVP_MAC_init(ctx.get(), key_ptr, key.size(), params) != 1)
    throw std::runtime_error("OpenSSL: HMAC-MD5 init failed");
  for (ByteView p : parts) {
    if (!p.empty() && EVP_MAC_update(ctx.get(), p.data(), p.size()) != 1)
      throw std::runtime_error("OpenSSL: HMAC-MD5 update failed");
  }
  Digest16 out{};
  std::size_t len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size())
    throw std::runtime_error("OpenSSL: HMAC-MD5 final failed");
  return out;
}

bool constant_time_equal(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace portcullis::radius
