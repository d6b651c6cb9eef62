// RAII ownership for OpenSSL types and small helpers around them.
// Every OpenSSL object in Portcullis lives in one of these pointers: no naked *_free.
#pragma once

#include "ca/hex.hpp"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::ca {

template <auto FreeFn>
struct OpenSslDeleter {
  template <class T>
  void operator()(T* p) const noexcept { FreeFn(p); }
};

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, OpenSslDeleter<ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpenSslDeleter<ASN1_TIME_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, OpenSslDeleter<ASN1_STRING_free>>;
using Asn1OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, OpenSslDeleter<ASN1_OCTET_STRING_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX_free>>;
using EvpMdPtr = std::unique_ptr<EVP_MD, OpenSslDeleter<EVP_MD_free>>;
using EvpMacPtr = std::unique_ptr<EVP_MAC, OpenSslDeleter<EVP_MAC_free>>;
using EvpMacCtxPtr = std::unique_ptr<EVP_MAC_CTX, OpenSslDeleter<EVP_MAC_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, OpenSslDeleter<X509_CRL_free>>;
using X509RevokedPtr = std::unique_ptr<X509_REVOKED, OpenSslDeleter<X509_REVOKED_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslDeleter<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;
using OcspRequestPtr = std::unique_ptr<OCSP_REQUEST, OpenSslDeleter<OCSP_REQUEST_free>>;
using OcspResponsePtr = std::unique_ptr<OCSP_RESPONSE, OpenSslDeleter<OCSP_RESPONSE_free>>;
using OcspBasicRespPtr = std::unique_ptr<OCSP_BASICRESP, OpenSslDeleter<OCSP_BASICRESP_free>>;
using OcspCertIdPtr = std::unique_ptr<OCSP_CERTID, OpenSslDeleter<OCSP_CERTID_free>>;
using Asn1EnumeratedPtr = std::unique_ptr<ASN1_ENUMERATED, OpenSslDeleter<ASN1_ENUMERATED_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, OpenSslDeleter<CMS_ContentInfo_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OpenSslDeleter<GENERAL_NAME_free>>;
using Asn1BitStringPtr = std::unique_ptr<ASN1_BIT_STRING, OpenSslDeleter<ASN1_BIT_STRING_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, OpenSslDeleter<BASIC_CONSTRAINTS_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, OpenSslDeleter<AUTHORITY_KEYID_free>>;
using ExtendedKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, OpenSslDeleter<EXTENDED_KEY_USAGE_free>>;
using DistPointPtr = std::unique_ptr<DIST_POINT, OpenSslDeleter<DIST_POINT_free>>;
using CrlDistPointsPtr = std::unique_ptr<CRL_DIST_POINTS, OpenSslDeleter<CRL_DIST_POINTS_free>>;
using AccessDescriptionPtr = std::unique_ptr<ACCESS_DESCRIPTION, OpenSslDeleter<ACCESS_DESCRIPTION_free>>;
using AuthorityInfoAccessPtr = std::unique_ptr<AUTHORITY_INFO_ACCESS, OpenSslDeleter<AUTHORITY_INFO_ACCESS_free>>;
// SCEP (scep/): attribute OIDs, the PKCS#7 view of an EnvelopedData (to read its content
// cipher, which CMS does not expose), and the OpenSSL legacy provider for single DES.
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, OpenSslDeleter<ASN1_OBJECT_free>>;
using Pkcs7Ptr = std::unique_ptr<PKCS7, OpenSslDeleter<PKCS7_free>>;
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, OpenSslDeleter<EVP_CIPHER_CTX_free>>;
using RsaOaepParamsPtr = std::unique_ptr<RSA_OAEP_PARAMS, OpenSslDeleter<RSA_OAEP_PARAMS_free>>;
using X509AlgorPtr = std::unique_ptr<X509_ALGOR, OpenSslDeleter<X509_ALGOR_free>>;
using Pkcs7IssuerAndSerialPtr = std::unique_ptr<PKCS7_ISSUER_AND_SERIAL, OpenSslDeleter<PKCS7_ISSUER_AND_SERIAL_free>>;
using OsslProviderPtr = std::unique_ptr<OSSL_PROVIDER, OpenSslDeleter<OSSL_PROVIDER_unload>>;
using OsslLibCtxPtr = std::unique_ptr<OSSL_LIB_CTX, OpenSslDeleter<OSSL_LIB_CTX_free>>;
// libssl objects (radius/eap TLS engine). Headers only: ca/ itself never calls libssl.
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpenSslDeleter<SSL_free>>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, OpenSslDeleter<SSL_SESSION_free>>;

struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;
struct X509ExtensionStackDeleter {
  void operator()(STACK_OF(X509_EXTENSION) * s) const noexcept { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
};
using X509ExtensionStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), X509ExtensionStackDeleter>;

using Bytes = std::vector<std::uint8_t>;

// Thrown for any OpenSSL failure; the message carries the drained error queue.
// Never put key material or secrets into `what`.
class OpenSslError : public std::runtime_error {
 public:
  explicit OpenSslError(const std::string& context);
};

// Throws OpenSslError(context) when `ok` is false. For calls returning 1 on success.
void check(int ok, const char* context);
template <class T>
T* check_ptr(T* p, const char* context) {
  if (p == nullptr) throw OpenSslError(context);
  return p;
}

// --- encoding helpers -------------------------------------------------------
// DER of any ASN.1 object through its i2d_ function (the two-pass length-then-write idiom).
template <class T, class I2d>
Bytes to_der(T* object, I2d i2d, const char* what) {
  const int len = i2d(object, nullptr);
  if (len <= 0) throw OpenSslError(what);
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* out = der.data();
  if (i2d(object, &out) != len) throw OpenSslError(what);
  return der;
}

using Sha256 = std::array<std::uint8_t, 32>;
Sha256 sha256(std::span<const std::uint8_t> bytes);
// SHA-256 of `bytes` as lowercase hex: stored challenge and token hashes, SCEP requester ids.
std::string sha256_lower_hex(std::span<const std::uint8_t> bytes);
Bytes random_bytes(std::size_t count);                     // from OpenSSL's CSPRNG; throws OpenSslError

X509Ptr cert_from_pem(std::string_view pem);
X509Ptr cert_from_der(std::span<const std::uint8_t> der);
std::vector<X509Ptr> certs_from_pem(std::string_view pem);  // a chain file, in order
std::string cert_to_pem(const X509* cert);
Bytes cert_to_der(const X509* cert);

X509ReqPtr csr_from_pem_or_der(std::string_view data);      // throws std::invalid_argument on garbage
// One whole DER PKCS#10 CSR, parsed without decoding its public key (nullptr otherwise):
// OpenSSL 3.0 sets up its provider decoders for every key it parses (about 85 µs, no
// cache), and issuance takes the key through csr_public_key() anyway. Everything else of
// the CSR reads as usual; X509_REQ_get0_pubkey() is nullptr on it.
X509ReqPtr csr_from_der_without_key(std::span<const std::uint8_t> der);
// The library context that parsing takes to leave public keys undecoded: its only provider
// is "null" (no algorithms), so no decoder exists there. Hand it to ASN1_item_d2i_ex only.
// An object parsed in it keeps it: calls that compute in the object's own context
// (X509_digest, X509_verify, X509_REQ_verify) fail on it; use the _ex calls with the
// default context, hash the DER yourself, or parse again in full.
OSSL_LIB_CTX* keyless_library_context();
std::string csr_to_pem(const X509_REQ* req);

EvpPkeyPtr key_from_pem(std::string_view pem);
std::string key_to_pem(const EVP_PKEY* key);                 // unencrypted PKCS#8

// --- certificate facts --------------------------------------------------------
Bytes serial_bytes(const X509* cert);                        // big-endian magnitude
std::string serial_hex(const X509* cert);                    // to_hex(serial_bytes)
std::string sha256_fingerprint_hex(const X509* cert);        // over the DER
std::string subject_string(const X509* cert);                // RFC 2253 one-line
std::string name_to_string(const X509_NAME* name);           // RFC 2253 one-line
std::string utf8_text(const ASN1_STRING* s);                 // any ASN.1 string type as UTF-8; empty if not convertible
std::vector<std::string> subject_alt_names(const X509* cert); // "DNS:x", "URI:y", "email:z", "IP:1.2.3.4"
std::string general_name_to_string(const GENERAL_NAME* name); // one of those; empty for other types
std::int64_t not_before_unix(const X509* cert);
std::int64_t not_after_unix(const X509* cert);
std::int64_t asn1_time_to_unix(const ASN1_TIME* t);

// --- files ----------------------------------------------------------------------
std::string read_file(const std::string& path);             // throws std::runtime_error
// Writes atomically (temp file + rename) with the given mode; private keys use 0600.
void write_file(const std::string& path, std::string_view data, unsigned mode = 0644);

}  // namespace portcullis::ca
