// The requester side of SCEP, written directly on OpenSSL's CMS API (independent of
// scep/pki_message.cpp): builds PKCSReq/RenewalReq/CertPoll messages and opens CertRep
// replies. No test framework: the unit tests (scep_test_client.hpp) and the SCEP load
// generator (tests/bench/scep_load.cpp) share it.
#pragma once

#include "ca/cert_builder.hpp"
#include "ca/x509.hpp"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <ctime>
#include <string>
#include <vector>

namespace portcullis::scep::testing {

using ca::check;
using ca::check_ptr;

inline ca::EvpPkeyPtr rsa_key(int bits) {
  return ca::EvpPkeyPtr(check_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)), "keygen"));
}

// A PKCS#10 request with CN (and optionally a challengePassword), SHA-256 signed.
inline ca::Bytes make_csr(EVP_PKEY* key, const std::string& cn, const std::string& challenge) {
  ca::X509ReqPtr req(check_ptr(X509_REQ_new(), "X509_REQ_new"));
  check(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1), "version");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                   -1, 0),
        "CN");
  check(X509_REQ_set_pubkey(req.get(), key), "pubkey");
  if (!challenge.empty()) {
    check(X509_REQ_add1_attr_by_NID(req.get(), NID_pkcs9_challengePassword, MBSTRING_ASC,
                                    reinterpret_cast<const unsigned char*>(challenge.data()),
                                    static_cast<int>(challenge.size())),
          "challengePassword");
  }
  check(X509_REQ_sign(req.get(), key, EVP_sha256()) > 0, "sign");
  return ca::to_der(req.get(), i2d_X509_REQ, "i2d_X509_REQ");
}

// The transient self-signed certificate SCEP clients sign their first request with.
inline ca::X509Ptr self_signed(EVP_PKEY* key, const std::string& cn) {
  const ca::Bytes serial{0x01, 0x02};
  ca::X509NamePtr name = ca::make_name({{"CN", cn}});
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  ca::X509Ptr cert = ca::new_certificate(serial, name.get(), name.get(), key, now - 60, now + 3600);
  ca::sign_certificate(cert.get(), key, EVP_sha256());
  return cert;
}

// RFC 8894 §3.3.4 messageData of GetCert and GetCRL: IssuerAndSerialNumber (RFC 5652 §10.2.4).
inline ca::Bytes issuer_and_serial(const X509_NAME* issuer, const ASN1_INTEGER* serial) {
  ca::Pkcs7IssuerAndSerialPtr ias(check_ptr(PKCS7_ISSUER_AND_SERIAL_new(), "PKCS7_ISSUER_AND_SERIAL_new"));
  check(X509_NAME_set(&ias->issuer, const_cast<X509_NAME*>(issuer)), "X509_NAME_set");
  check(ias->serial != nullptr && ASN1_STRING_copy(ias->serial, serial), "ASN1_STRING_copy");
  return ca::to_der(ias.get(), i2d_PKCS7_ISSUER_AND_SERIAL, "i2d_PKCS7_ISSUER_AND_SERIAL");
}

struct RequestOptions {
  const EVP_CIPHER* cipher = EVP_aes_256_cbc();
  const EVP_MD* digest = EVP_sha256();
  bool oaep = false;
  const EVP_MD* oaep_md = nullptr;   // OAEP hash and MGF1 hash; nullptr: OpenSSL's default (SHA-1)
  std::string message_type = "19";
  std::string transaction_id = "tx-1";
};

inline void add_attr(CMS_SignerInfo* si, const char* oid, int type, const std::string& value) {
  ca::Asn1ObjectPtr obj(check_ptr(OBJ_txt2obj(oid, 1), "oid"));
  check(CMS_signed_add1_attr_by_OBJ(si, obj.get(), type, value.data(), static_cast<int>(value.size())), "attr");
}

// RFC 8894 §3.2.2 pkcsPKIEnvelope: EnvelopedData(RA) { message_data }.
inline ca::Bytes make_envelope(const ca::Bytes& message_data, const X509* ra, const RequestOptions& o) {
  ca::BioPtr data(check_ptr(BIO_new_mem_buf(message_data.data(), static_cast<int>(message_data.size())), "bio"));
  ca::CmsPtr env(check_ptr(CMS_encrypt(nullptr, nullptr, o.cipher, CMS_BINARY | CMS_PARTIAL), "CMS_encrypt"));
  CMS_RecipientInfo* ri = check_ptr(
      CMS_add1_recipient_cert(env.get(), const_cast<X509*>(ra), o.oaep ? CMS_KEY_PARAM : 0u), "recipient");
  if (o.oaep) check(EVP_PKEY_CTX_set_rsa_padding(CMS_RecipientInfo_get0_pkey_ctx(ri), RSA_PKCS1_OAEP_PADDING) > 0, "oaep");
  if (o.oaep && o.oaep_md != nullptr) {
    check(EVP_PKEY_CTX_set_rsa_oaep_md(CMS_RecipientInfo_get0_pkey_ctx(ri), o.oaep_md) > 0, "oaep md");
    check(EVP_PKEY_CTX_set_rsa_mgf1_md(CMS_RecipientInfo_get0_pkey_ctx(ri), o.oaep_md) > 0, "mgf1 md");
  }
  check(CMS_final(env.get(), data.get(), nullptr, CMS_BINARY), "CMS_final env");
  return ca::to_der(env.get(), i2d_CMS_ContentInfo, "i2d env");
}

// RFC 8894 §3.2: SignedData(signer) { envelope }, with the SCEP signed attributes.
inline ca::Bytes sign_request(const ca::Bytes& env_der, const X509* signer, EVP_PKEY* signer_key,
                              const RequestOptions& o) {
  ca::CmsPtr cms(check_ptr(CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_BINARY | CMS_PARTIAL), "CMS_sign"));
  CMS_SignerInfo* si = check_ptr(CMS_add1_signer(cms.get(), const_cast<X509*>(signer), signer_key, o.digest,
                                                 CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP),
                                 "signer");
  add_attr(si, "2.16.840.1.113733.1.9.7", V_ASN1_PRINTABLESTRING, o.transaction_id);
  add_attr(si, "2.16.840.1.113733.1.9.2", V_ASN1_PRINTABLESTRING, o.message_type);
  add_attr(si, "2.16.840.1.113733.1.9.5", V_ASN1_OCTET_STRING, "0123456789abcdef");
  ca::BioPtr in(check_ptr(BIO_new_mem_buf(env_der.data(), static_cast<int>(env_der.size())), "bio"));
  check(CMS_final(cms.get(), in.get(), nullptr, CMS_BINARY), "CMS_final");
  return ca::to_der(cms.get(), i2d_CMS_ContentInfo, "i2d");
}

// RFC 8894 §3.2: SignedData(signer) { EnvelopedData(RA) { message_data } }.
inline ca::Bytes make_request(const ca::Bytes& message_data, const X509* signer, EVP_PKEY* signer_key,
                              const X509* ra, const RequestOptions& o) {
  return sign_request(make_envelope(message_data, ra, o), signer, signer_key, o);
}

struct Reply {
  std::string message_type, pki_status, fail_info, transaction_id, recipient_nonce;
  std::vector<ca::X509Ptr> certificates;   // SUCCESS: decrypted degenerate PKCS#7, in order
  std::vector<ca::X509CrlPtr> crls;        // SUCCESS for GetCRL: its crls field
  int digest_nid = 0;
};

inline std::string attr_text(CMS_SignerInfo* si, const char* oid) {
  ca::Asn1ObjectPtr obj(check_ptr(OBJ_txt2obj(oid, 1), "oid"));
  const int idx = CMS_signed_get_attr_by_OBJ(si, obj.get(), -1);
  if (idx < 0) return "(absent)";
  const ASN1_TYPE* t = X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, idx), 0);
  const ASN1_STRING* s = t->value.asn1_string;
  std::string v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
  if (ASN1_TYPE_get(t) == V_ASN1_PRINTABLESTRING) return v;
  return ASN1_TYPE_get(t) == V_ASN1_OCTET_STRING ? v : "(wrong type)";
}

// Verifies the RA's signature and, for SUCCESS, decrypts with the requester's key.
inline Reply open_reply(const ca::Bytes& der, const X509* ra, const X509* requester, EVP_PKEY* requester_key) {
  const unsigned char* p = der.data();
  ca::CmsPtr cms(check_ptr(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())), "reply d2i"));
  ca::X509StackPtr trusted(sk_X509_new_null());
  X509_up_ref(const_cast<X509*>(ra));
  sk_X509_push(trusted.get(), const_cast<X509*>(ra));
  ca::BioPtr content(BIO_new(BIO_s_mem()));
  check(CMS_verify(cms.get(), trusted.get(), nullptr, nullptr, content.get(),
                   CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN),
        "reply signature");
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
  Reply r;
  r.message_type = attr_text(si, "2.16.840.1.113733.1.9.2");
  r.pki_status = attr_text(si, "2.16.840.1.113733.1.9.3");
  r.fail_info = attr_text(si, "2.16.840.1.113733.1.9.4");
  r.transaction_id = attr_text(si, "2.16.840.1.113733.1.9.7");
  r.recipient_nonce = attr_text(si, "2.16.840.1.113733.1.9.6");
  X509_ALGOR* alg = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &alg, nullptr);
  const ASN1_OBJECT* obj = nullptr;
  X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
  r.digest_nid = OBJ_obj2nid(obj);
  if (r.pki_status != "0") return r;

  char* env_data = nullptr;
  const long env_len = BIO_get_mem_data(content.get(), &env_data);
  const auto* q = reinterpret_cast<const unsigned char*>(env_data);
  ca::CmsPtr env(check_ptr(d2i_CMS_ContentInfo(nullptr, &q, env_len), "envelope d2i"));
  ca::BioPtr plain(BIO_new(BIO_s_mem()));
  check(CMS_decrypt(env.get(), requester_key, const_cast<X509*>(requester), nullptr, plain.get(), CMS_BINARY),
        "decrypt reply");
  char* inner = nullptr;
  const long inner_len = BIO_get_mem_data(plain.get(), &inner);
  const auto* s = reinterpret_cast<const unsigned char*>(inner);
  ca::Pkcs7Ptr p7(check_ptr(d2i_PKCS7(nullptr, &s, inner_len), "degenerate d2i"));
  STACK_OF(X509)* certs = p7->d.sign->cert;
  for (int i = 0; i < sk_X509_num(certs); ++i) {
    X509* c = sk_X509_value(certs, i);
    X509_up_ref(c);
    r.certificates.emplace_back(c);
  }
  STACK_OF(X509_CRL)* crls = p7->d.sign->crl;
  for (int i = 0; i < sk_X509_CRL_num(crls); ++i) {
    X509_CRL* c = sk_X509_CRL_value(crls, i);
    X509_CRL_up_ref(c);
    r.crls.emplace_back(c);
  }
  return r;
}

}  // namespace portcullis::scep::testing
