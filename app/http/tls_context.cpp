// Server TLS context: TLS 1.2+ (RFC 8996 deprecates 1.0/1.1), ECDHE with AEAD suites only
// for TLS 1.2 (RFC 9325 §4.2 recommendations, as in Mozilla's "intermediate" profile);
// TLS 1.3 suites are all AEAD and stay at OpenSSL's defaults.
#include "app/http/tls_context.hpp"

#include "ca/key_file.hpp"
#include "ca/x509.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>

namespace portcullis::app {
namespace {

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_reason() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const std::string& cert_path,
                                                                   const std::string& key_path,
                                                                   const std::string& chain_path) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();

  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
    throw std::runtime_error("cannot set the minimum TLS version: " + openssl_reason());
  // No renegotiation (a DoS lever, and pointless for short HTTP requests); no compression
  // (CRIME, RFC 7457 §2.6).
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1)
    throw std::runtime_error("cannot set the TLS 1.2 cipher list: " + openssl_reason());

  if (SSL_CTX_use_certificate_chain_file(ctx, cert_path.c_str()) != 1)
    throw std::runtime_error("cannot use TLS certificate '" + cert_path + "': " + openssl_reason());
  if (!chain_path.empty()) {
    std::vector<ca::X509Ptr> chain;
    try {
      chain = ca::certs_from_pem(ca::read_file(chain_path));
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot read TLS chain '" + chain_path + "': " + e.what());
    }
    for (auto& cert : chain) {
      // A self-issued root is the client's trust anchor; sending it only costs bytes
      // (RFC 8446 §4.4.2 lets the sender omit it).
      if (X509_check_issued(cert.get(), cert.get()) == X509_V_OK) continue;
      if (SSL_CTX_add1_chain_cert(ctx, cert.get()) != 1)
        throw std::runtime_error("cannot add chain certificate from '" + chain_path + "': " + openssl_reason());
    }
  }
  // Read through the owner-only check (ca/key_file.hpp) rather than by OpenSSL's own
  // file loader, which would take a key that others can read.
  ca::EvpPkeyPtr key;
  try {
    key = ca::key_from_pem(ca::read_private_key_file(key_path));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot use TLS private key '" + key_path + "': " + e.what());
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1)
    throw std::runtime_error("cannot use TLS private key '" + key_path + "': " + openssl_reason());
  if (SSL_CTX_check_private_key(ctx) != 1)
    throw std::runtime_error("TLS private key '" + key_path + "' does not match certificate '" + cert_path + "'");
  return context;
}

}  // namespace portcullis::app
