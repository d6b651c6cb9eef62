// Hand-made pkcsPKIEnvelopes (RFC 8894 §3.2.2) for the key-transport tests and the timing
// bench: AES-256-CBC content under a content-encryption key (CEK) we choose, wrapped for
// the RA with raw RSA and a PKCS#1 v1.5 block (RFC 8017 §7.2.1) we build ourselves, so the
// block can be broken on purpose. What a Bleichenbacher-style sender would send.
// No test framework: the unit tests and tests/bench/scep_envelope_timing.cpp share it.
#pragma once

#include "tests/unit/scep/scep_requester.hpp"

#include <openssl/pkcs7.h>

namespace portcullis::scep::testing {

enum class EnvelopeFault {
  none,               // a valid envelope of the given content
  wrong_content,      // valid key transport, but the content is not a messageData
  bad_padding,        // the encryption block's type octet is not 02
  wrong_key_length,   // a well-formed block carrying a 16-octet CEK for AES-256
};

inline const char* to_string(EnvelopeFault f) {
  switch (f) {
    case EnvelopeFault::none: return "valid";
    case EnvelopeFault::wrong_content: return "wrong-content";
    case EnvelopeFault::bad_padding: return "bad-padding";
    case EnvelopeFault::wrong_key_length: return "wrong-key-length";
  }
  return "?";
}

// EB = 00 || 02 || PS (nonzero random) || 00 || key, as long as the modulus.
inline ca::Bytes pkcs1_v15_block(std::size_t modulus_bytes, const ca::Bytes& key) {
  ca::Bytes block(modulus_bytes);
  block[1] = 0x02;
  const std::size_t ps_end = modulus_bytes - key.size() - 1;
  for (std::size_t i = 2; i < ps_end; ++i) {
    do {
      check(RAND_bytes(&block[i], 1), "RAND_bytes");
    } while (block[i] == 0);
  }
  std::copy(key.begin(), key.end(), block.begin() + static_cast<long>(ps_end + 1));
  return block;
}

inline ca::Bytes raw_rsa_encrypt(const X509* recipient, const ca::Bytes& block) {
  ca::EvpPkeyCtxPtr ctx(check_ptr(EVP_PKEY_CTX_new(X509_get0_pubkey(recipient), nullptr), "EVP_PKEY_CTX_new"));
  check(EVP_PKEY_encrypt_init(ctx.get()) > 0, "encrypt_init");
  check(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) > 0, "no padding");
  std::size_t len = block.size();
  ca::Bytes out(len);
  check(EVP_PKEY_encrypt(ctx.get(), out.data(), &len, block.data(), block.size()) > 0, "raw RSA");
  out.resize(len);
  return out;
}

inline ca::Bytes aes256_cbc(const ca::Bytes& key, const unsigned char* iv, const ca::Bytes& plain) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  check(ctx != nullptr && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key.data(), iv) == 1, "init");
  ca::Bytes out(plain.size() + 16);
  int n = 0, tail = 0;
  check(EVP_EncryptUpdate(ctx.get(), out.data(), &n, plain.data(), static_cast<int>(plain.size())) == 1, "update");
  check(EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &tail) == 1, "final");
  out.resize(static_cast<std::size_t>(n + tail));
  return out;
}

// An EnvelopedData to `ra` carrying `content`, with `fault`. The structure comes from
// CMS_encrypt (recipient, algorithms, IV); the wrapped key and the ciphertext are ours.
inline ca::Bytes forged_envelope(const ca::Bytes& content, const X509* ra, EnvelopeFault fault) {
  RequestOptions o;
  o.cipher = EVP_aes_256_cbc();
  const ca::Bytes template_der = make_envelope(content, ra, o);
  const unsigned char* p = template_der.data();
  ca::Pkcs7Ptr p7(check_ptr(d2i_PKCS7(nullptr, &p, static_cast<long>(template_der.size())), "d2i_PKCS7"));
  PKCS7_ENVELOPE* env = p7->d.enveloped;
  unsigned char iv[16];
  check(ASN1_TYPE_get_octetstring(env->enc_data->algorithm->parameter, iv, sizeof iv) == sizeof iv, "IV");

  const ca::Bytes cek = ca::random_bytes(32);
  // As long as the content, so that only what is in it differs; an OCTET STRING tag
  // first, so it is no SEQUENCE (CSR, IssuerAndSerialNumber, IssuerAndSubject).
  ca::Bytes not_a_message_data = ca::random_bytes(content.size());
  not_a_message_data[0] = V_ASN1_OCTET_STRING;
  const ca::Bytes ciphertext = aes256_cbc(cek, iv, fault == EnvelopeFault::wrong_content ? not_a_message_data : content);
  check(ASN1_OCTET_STRING_set(env->enc_data->enc_data, ciphertext.data(), static_cast<int>(ciphertext.size())),
        "content");

  const auto modulus = static_cast<std::size_t>(EVP_PKEY_get_size(X509_get0_pubkey(ra)));
  ca::Bytes block = pkcs1_v15_block(modulus, fault == EnvelopeFault::wrong_key_length ? ca::random_bytes(16) : cek);
  if (fault == EnvelopeFault::bad_padding) block[1] = 0x17;
  const ca::Bytes wrapped = raw_rsa_encrypt(ra, block);
  PKCS7_RECIP_INFO* ri = sk_PKCS7_RECIP_INFO_value(env->recipientinfo, 0);
  check(ASN1_OCTET_STRING_set(ri->enc_key, wrapped.data(), static_cast<int>(wrapped.size())), "enc_key");
  return ca::to_der(p7.get(), i2d_PKCS7, "i2d_PKCS7");
}

// A signed PKIOperation around a forged envelope.
inline ca::Bytes forged_request(const ca::Bytes& content, const X509* signer, EVP_PKEY* signer_key, const X509* ra,
                                EnvelopeFault fault, const RequestOptions& o) {
  return sign_request(forged_envelope(content, ra, fault), signer, signer_key, o);
}

}  // namespace portcullis::scep::testing
