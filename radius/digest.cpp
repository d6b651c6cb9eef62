#include "radius/digest.hpp"

#include <openssl/core_names.h>
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

// Every RADIUS packet takes two to four of these (authenticators, Message-Authenticator,
// MPPE salt encryption). A context per thread, re-initialised per call, spares an
// allocation each time; for HMAC it also spares OpenSSL 3 resolving the digest by name
// (a provider lookup behind a lock) on every call: the digest is set once per context.
EVP_MD_CTX* md5_context() {
  thread_local const EvpMdCtxPtr ctx{EVP_MD_CTX_new()};
  if (!ctx) throw std::runtime_error("OpenSSL: MD5 context allocation failed");
  return ctx.get();
}

EVP_MAC_CTX* hmac_md5_context() {
  thread_local const EvpMacCtxPtr ctx = [] {
    EvpMacCtxPtr c{EVP_MAC_CTX_new(hmac_algorithm())};
    if (!c) throw std::runtime_error("OpenSSL: HMAC context allocation failed");
    char digest_name[] = "MD5";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(c.get(), params) != 1) throw std::runtime_error("OpenSSL: HMAC-MD5 setup failed");
    return c;
  }();
  return ctx.get();
}

}  // namespace

Digest16 md5(std::initializer_list<ByteView> parts) {
  EVP_MD_CTX* ctx = md5_context();
  if (EVP_DigestInit_ex2(ctx, md5_algorithm(), nullptr) != 1) throw std::runtime_error("OpenSSL: MD5 init failed");
  for (ByteView p : parts) {
    if (!p.empty() && EVP_DigestUpdate(ctx, p.data(), p.size()) != 1)
      throw std::runtime_error("OpenSSL: MD5 update failed");
  }
  Digest16 out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != out.size())
    throw std::runtime_error("OpenSSL: MD5 final failed");
  return out;
}

Digest16 hmac_md5(ByteView key, std::initializer_list<ByteView> parts) {
  EVP_MAC_CTX* ctx = hmac_md5_context();
  // An empty shared secret is rejected by the client table long before this point; a
  // zero-length key would still be a valid HMAC key, but OpenSSL wants a non-null pointer.
  // EVP_MAC_init with a key and no parameters re-keys the context (the digest stays).
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* key_ptr = key.empty() ? &kEmpty : key.data();
  if (EVP_MAC_init(ctx, key_ptr, key.size(), nullptr) != 1) throw std::runtime_error("OpenSSL: HMAC-MD5 init failed");
  for (ByteView p : parts) {
    if (!p.empty() && EVP_MAC_update(ctx, p.data(), p.size()) != 1)
      throw std::runtime_error("OpenSSL: HMAC-MD5 update failed");
  }
  Digest16 out{};
  std::size_t len = 0;
  if (EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1 || len != out.size())
    throw std::runtime_error("OpenSSL: HMAC-MD5 final failed");
  return out;
}

}  // namespace portcullis::radius
