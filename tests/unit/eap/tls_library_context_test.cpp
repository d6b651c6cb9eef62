// The EAP-TLS library context (radius/eap/tls_library_context.hpp): what TLS sees in it is
// what it would see in the default context (security level, cipher suites, groups), client
// certificates of every key type we issue parse with their keys, and the decoder search is
// the short one (no PEM decoder exists here). Whole handshakes in it are tls_engine_test's.
#include "radius/eap/tls_library_context.hpp"

#include "ca/x509.hpp"
#include "eap_fixture.hpp"

#include <openssl/decoder.h>
#include <openssl/ssl.h>
#include <gtest/gtest.h>

#include <ctime>
#include <string>
#include <vector>

namespace portcullis::radius::eap {
namespace {

using SslCtxPtr = std::unique_ptr<SSL_CTX, ca::OpenSslDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, ca::OpenSslDeleter<SSL_free>>;
using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, ca::OpenSslDeleter<OSSL_DECODER_CTX_free>>;

std::vector<std::string> cipher_names(OSSL_LIB_CTX* context) {
  SslCtxPtr ctx(SSL_CTX_new_ex(context, nullptr, TLS_server_method()));
  SslPtr ssl(SSL_new(ctx.get()));
  std::vector<std::string> names;
  STACK_OF(SSL_CIPHER)* ciphers = SSL_get_ciphers(ssl.get());
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) names.emplace_back(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(ciphers, i)));
  return names;
}

TEST(TlsLibraryContext, OffersWhatTheDefaultContextOffers) {
  OSSL_LIB_CTX* ours = tls_library_context();
  ASSERT_NE(ours, nullptr);
  EXPECT_EQ(tls_library_context(), ours);  // one per process
  SslCtxPtr standard(SSL_CTX_new_ex(nullptr, nullptr, TLS_server_method()));
  SslCtxPtr eap(SSL_CTX_new_ex(ours, nullptr, TLS_server_method()));
  ASSERT_TRUE(standard && eap);
  EXPECT_EQ(SSL_CTX_get_security_level(eap.get()), SSL_CTX_get_security_level(standard.get()));
  EXPECT_EQ(SSL_CTX_get_options(eap.get()), SSL_CTX_get_options(standard.get()));
  const std::vector<std::string> ciphers = cipher_names(ours);
  EXPECT_EQ(ciphers, cipher_names(nullptr));
  EXPECT_FALSE(ciphers.empty());
  // libssl learns the groups from the provider's capabilities: each must be known here.
  for (const char* group : {"X25519", "P-256", "P-384", "P-521", "X448", "ffdhe2048", "ffdhe3072"}) {
    EXPECT_EQ(SSL_CTX_set1_groups_list(eap.get(), group), 1) << group;
  }
}

TEST(TlsLibraryContext, ClientCertificatesParseWithTheirKeys) {
  const std::time_t now = std::time(nullptr);
  for (bool rsa : {false, true}) {
    ca::EvpPkeyPtr key = testing::new_key(rsa);
    ca::X509Ptr cert = testing::sign_cert(key.get(), "device", nullptr, key.get(), now - 60, now + 3600, false);
    const ca::Bytes der = ca::cert_to_der(cert.get());
    const unsigned char* p = der.data();
    // As libssl reads a client's certificate: into an object of the SSL_CTX's context.
    X509* raw = X509_new_ex(tls_library_context(), nullptr);
    ASSERT_NE(d2i_X509(&raw, &p, static_cast<long>(der.size())), nullptr);
    ca::X509Ptr parsed(raw);
    EVP_PKEY* parsed_key = X509_get0_pubkey(parsed.get());
    ASSERT_NE(parsed_key, nullptr) << (rsa ? "RSA" : "EC");
    EXPECT_EQ(EVP_PKEY_eq(parsed_key, key.get()), 1);
    EXPECT_EQ(X509_verify(parsed.get(), key.get()), 1);  // a signature check in this context
  }
}

TEST(TlsLibraryContext, HasOnlyTheSubjectPublicKeyInfoDecoders) {
  EVP_PKEY* key = nullptr;
  DecoderCtxPtr pem(OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", nullptr, nullptr, EVP_PKEY_KEYPAIR,
                                                  tls_library_context(), nullptr));
  ASSERT_TRUE(pem);
  EXPECT_EQ(OSSL_DECODER_CTX_get_num_decoders(pem.get()), 0);
  DecoderCtxPtr spki(OSSL_DECODER_CTX_new_for_pkey(&key, "DER", "SubjectPublicKeyInfo", "EC", EVP_PKEY_PUBLIC_KEY,
                                                   tls_library_context(), nullptr));
  ASSERT_TRUE(spki);
  EXPECT_GT(OSSL_DECODER_CTX_get_num_decoders(spki.get()), 0);
}

}  // namespace
}  // namespace portcullis::radius::eap
