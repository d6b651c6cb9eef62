// The pkcsPKIEnvelope opened without a padding oracle (envelope.hpp).
#include "scep/envelope.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace portcullis::scep {
namespace {

using EvpKdfPtr = std::unique_ptr<EVP_KDF, ca::OpenSslDeleter<EVP_KDF_free>>;
using EvpKdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, ca::OpenSslDeleter<EVP_KDF_CTX_free>>;

// Zeroes a key or a decryption block when it goes out of scope: they live in plain vectors.
struct Cleansed {
  ca::Bytes& bytes;
  ~Cleansed() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

// Drawn once per process at first use (a function-local static: thread-safe), never
// stored or logged: only with it can the rejection key of a ciphertext be computed.
const ca::Bytes& rejection_secret() {
  static const ca::Bytes secret = ca::random_bytes(32);
  return secret;
}

// Keeps the compiler from turning mask arithmetic back into branches (what OpenSSL's
// value_barrier in internal/constant_time.h does).
std::uint32_t barrier(std::uint32_t v) {
#if defined(__GNUC__) || defined(__clang__)
  __asm__("" : "+r"(v));
#endif
  return v;
}

// All ones when v is zero, zero otherwise; v below 2^31.
std::uint32_t zero_mask(std::uint32_t v) { return barrier(0u - ((~v & (v - 1u)) >> 31)); }

// candidate[0..n) when `good` is all ones, fallback when it is zero, n = fallback.size().
ca::Bytes select(std::uint32_t good, const std::uint8_t* candidate, std::span<const std::uint8_t> fallback) {
  const auto mask = static_cast<std::uint8_t>(barrier(good) & 0xFFu);
  ca::Bytes out(fallback.size());
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>((candidate[i] & mask) | (fallback[i] & static_cast<std::uint8_t>(~mask)));
  return out;
}

// The RecipientInfo for our RA certificate (RFC 5652 §6.2.1 issuerAndSerialNumber).
const PKCS7_RECIP_INFO* recipient_for(const PKCS7_ENVELOPE* env, const X509* ra_cert) {
  for (int i = 0; i < sk_PKCS7_RECIP_INFO_num(env->recipientinfo); ++i) {
    const PKCS7_RECIP_INFO* ri = sk_PKCS7_RECIP_INFO_value(env->recipientinfo, i);
    const PKCS7_ISSUER_AND_SERIAL* ias = ri->issuer_and_serial;
    if (ias != nullptr && X509_NAME_cmp(ias->issuer, X509_get_issuer_name(ra_cert)) == 0 &&
        ASN1_INTEGER_cmp(ias->serial, X509_get0_serialNumber(ra_cert)) == 0)
      return ri;
  }
  return nullptr;
}

// RSA without padding: the encryption block, as long as the modulus. It fails only for a
// wrapped key longer than the modulus or not below it, which the sender knows already;
// what the block holds is looked at in pkcs1_v15_key_or, in constant time.
std::optional<ca::Bytes> rsa_raw_decrypt(EVP_PKEY* key, const ASN1_OCTET_STRING* wrapped) {
  ca::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  const auto k = static_cast<std::size_t>(EVP_PKEY_get_size(key));
  ca::Bytes em(k);
  std::size_t len = k;
  const bool ok = ctx && EVP_PKEY_decrypt_init(ctx.get()) > 0 &&
                  EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) > 0 &&
                  EVP_PKEY_decrypt(ctx.get(), em.data(), &len, ASN1_STRING_get0_data(wrapped),
                                   static_cast<std::size_t>(ASN1_STRING_length(wrapped))) > 0 &&
                  len == k;
  ERR_clear_error();
  if (!ok) return std::nullopt;
  return em;
}

// RSAES-OAEP-params (RFC 4055 §3.1; absent: SHA-1, MGF1 with SHA-1, an empty label) as
// OpenSSL's settings. false for anything else, labels included (no SCEP client sends one).
bool set_oaep_params(EVP_PKEY_CTX* ctx, const ASN1_TYPE* parameter) {
  const EVP_MD* md = EVP_sha1();
  const EVP_MD* mgf1 = EVP_sha1();
  if (parameter != nullptr && ASN1_TYPE_get(parameter) != V_ASN1_NULL) {
    ca::RsaOaepParamsPtr params(
        static_cast<RSA_OAEP_PARAMS*>(ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_OAEP_PARAMS), parameter)));
    if (!params) return false;
    if (params->hashFunc != nullptr) md = EVP_get_digestbyobj(params->hashFunc->algorithm);
    if (params->maskGenFunc != nullptr) {
      if (OBJ_obj2nid(params->maskGenFunc->algorithm) != NID_mgf1) return false;
      ca::X509AlgorPtr hash(static_cast<X509_ALGOR*>(
          ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR), params->maskGenFunc->parameter)));
      mgf1 = hash ? EVP_get_digestbyobj(hash->algorithm) : nullptr;
    }
    if (params->pSourceFunc != nullptr) {
      const ASN1_TYPE* label = params->pSourceFunc->parameter;
      if (OBJ_obj2nid(params->pSourceFunc->algorithm) != NID_pSpecified || label == nullptr ||
          ASN1_TYPE_get(label) != V_ASN1_OCTET_STRING || ASN1_STRING_length(label->value.octet_string) != 0)
        return false;
    }
  }
  return md != nullptr && mgf1 != nullptr && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) > 0 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf1) > 0;
}

// RSAES-OAEP (RFC 8017 §7.1.2): OpenSSL decodes in constant time; its result only selects
// between the unwrapped key and `fallback`, as for PKCS#1 v1.5.
ca::Bytes oaep_key_or(EVP_PKEY* key, const PKCS7_RECIP_INFO* ri, const ca::Bytes& fallback) {
  ca::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  const auto k = static_cast<std::size_t>(EVP_PKEY_get_size(key));
  ca::Bytes out(std::max(k, fallback.size()));
  const Cleansed wipe{out};
  std::size_t len = out.size();
  const bool ok = ctx && EVP_PKEY_decrypt_init(ctx.get()) > 0 && set_oaep_params(ctx.get(), ri->key_enc_algor->parameter) &&
                  EVP_PKEY_decrypt(ctx.get(), out.data(), &len, ASN1_STRING_get0_data(ri->enc_key),
                                   static_cast<std::size_t>(ASN1_STRING_length(ri->enc_key))) > 0;
  ERR_clear_error();
  const std::uint32_t good = ~zero_mask(ok ? 1u : 0u) & zero_mask(static_cast<std::uint32_t>(len ^ fallback.size()));
  return select(good, out.data(), fallback);
}

ca::Bytes unwrap_key(const PKCS7_RECIP_INFO* ri, EVP_PKEY* key, const ca::Bytes& fallback) {
  switch (OBJ_obj2nid(ri->key_enc_algor->algorithm)) {
    case NID_rsaEncryption: {
      std::optional<ca::Bytes> em = rsa_raw_decrypt(key, ri->enc_key);
      if (!em) return fallback;
      const Cleansed wipe{*em};
      return pkcs1_v15_key_or(*em, fallback);
    }
    case NID_rsaesOaep:
      return oaep_key_or(key, ri, fallback);
    default:
      return fallback;
  }
}

// RFC 5652 §6.3: the IV from the content-encryption algorithm's parameters, then the key,
// as OpenSSL's CMS code does; a wrong key almost always fails the final block's padding,
// and when it does not, the content is garbage that no messageData parser accepts.
std::optional<ca::Bytes> decrypt_content(const EVP_CIPHER* cipher, const PKCS7_ENC_CONTENT* ec, const ca::Bytes& key) {
  ca::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  const ASN1_OCTET_STRING* in = ec->enc_data;
  ca::Bytes out(static_cast<std::size_t>(ASN1_STRING_length(in)) +
                static_cast<std::size_t>(EVP_CIPHER_get_block_size(cipher)));
  int n = 0, tail = 0;
  const bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) == 1 &&
                  EVP_CIPHER_asn1_to_param(ctx.get(), ec->algorithm->parameter) > 0 &&
                  static_cast<std::size_t>(EVP_CIPHER_CTX_get_key_length(ctx.get())) == key.size() &&
                  EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nullptr) == 1 &&
                  EVP_DecryptUpdate(ctx.get(), out.data(), &n, ASN1_STRING_get0_data(in), ASN1_STRING_length(in)) == 1 &&
                  EVP_DecryptFinal_ex(ctx.get(), out.data() + n, &tail) == 1;
  ERR_clear_error();
  if (!ok) return std::nullopt;
  out.resize(static_cast<std::size_t>(n + tail));
  return out;
}

std::span<const std::uint8_t> octets(const ASN1_OCTET_STRING* s) {
  return {ASN1_STRING_get0_data(s), static_cast<std::size_t>(ASN1_STRING_length(s))};
}

}  // namespace

ca::Bytes rejection_key(std::span<const std::uint8_t> wrapped_key, std::size_t length) {
  // HKDF-SHA256 (RFC 5869): the extract step is HMAC-SHA256(key = the secret, data = the
  // wrapped key), taken with EVP_Q_mac since OpenSSL's HKDF refuses an empty input and a
  // sender may send an empty wrapped key; the standard expand step then gives any key
  // length (the SCEP ciphers need 8 to 32 octets) without a hand-made counter.
  if (length == 0) return {};   // a cipher without a key: HKDF-Expand would refuse it
  std::array<std::uint8_t, 32> prk{};
  std::size_t prk_len = 0;
  const ca::Bytes& secret = rejection_secret();
  static const EvpKdfPtr hkdf{EVP_KDF_fetch(nullptr, "HKDF", nullptr)};
  EvpKdfCtxPtr ctx(hkdf ? EVP_KDF_CTX_new(hkdf.get()) : nullptr);
  char digest[] = "SHA256";
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, prk.data(), prk.size()),
      OSSL_PARAM_construct_end(),
  };
  ca::Bytes key(length);
  const bool ok = EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                            wrapped_key.data(), wrapped_key.size(), prk.data(), prk.size(), &prk_len) != nullptr &&
                  prk_len == prk.size() && ctx && EVP_KDF_derive(ctx.get(), key.data(), key.size(), params) == 1;
  OPENSSL_cleanse(prk.data(), prk.size());
  if (!ok) {
    ERR_clear_error();
    throw std::runtime_error("OpenSSL: HMAC-SHA256 / HKDF-Expand failed");
  }
  return key;
}

ca::Bytes pkcs1_v15_key_or(std::span<const std::uint8_t> em, std::span<const std::uint8_t> fallback) {
  const std::size_t k = em.size(), length = fallback.size();
  // The modulus and the cipher's key length are public: no secret in this branch.
  if (k < length + 11) return ca::Bytes(fallback.begin(), fallback.end());
  std::uint32_t good = zero_mask(em[0]) & zero_mask(em[1] ^ 0x02u);
  // The padding string ends where a message of `length` octets must start: every octet
  // before the separator nonzero, the separator zero. A message of another length puts
  // its separator elsewhere, so it fails one of the two.
  const std::size_t separator = k - length - 1;
  for (std::size_t i = 2; i < separator; ++i) good &= ~zero_mask(em[i]);
  good &= zero_mask(em[separator]);
  return select(good, em.data() + separator + 1, fallback);
}

std::optional<ca::Bytes> open_envelope(const PKCS7* envelope, const X509* ra_cert, EVP_PKEY* ra_key) {
  if (envelope == nullptr || OBJ_obj2nid(envelope->type) != NID_pkcs7_enveloped) return std::nullopt;
  const PKCS7_ENVELOPE* env = envelope->d.enveloped;
  const PKCS7_ENC_CONTENT* ec = env->enc_data;
  const EVP_CIPHER* cipher = ec->algorithm ? EVP_get_cipherbyobj(ec->algorithm->algorithm) : nullptr;
  if (cipher == nullptr || ec->enc_data == nullptr) return std::nullopt;   // nothing secret decided these
  const PKCS7_RECIP_INFO* ri = recipient_for(env, ra_cert);
  // Derived before the key is unwrapped: the CEK whenever the unwrapped one is not well
  // formed or not of this length. Whether a recipient is ours is public (issuer and serial
  // are in the clear); without one, the key derived from no octets at all serves.
  ca::Bytes fallback = rejection_key(ri != nullptr ? octets(ri->enc_key) : std::span<const std::uint8_t>{},
                                     static_cast<std::size_t>(EVP_CIPHER_get_key_length(cipher)));
  const Cleansed wipe_fallback{fallback};
  ca::Bytes key = ri ? unwrap_key(ri, ra_key, fallback) : fallback;
  const Cleansed wipe_key{key};
  return decrypt_content(cipher, ec, key);
}

}  // namespace portcullis::scep
