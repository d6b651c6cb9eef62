// SCEP pkiMessage parsing and CertRep building (RFC 8894 §3.1–§3.3) on OpenSSL CMS.
#include "scep/pki_message.hpp"

#include "ca/cert_builder.hpp"
#include "scep/envelope.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace portcullis::scep {
namespace {

using ca::Bytes;

// RFC 8894 §3.2.1: id-VeriSign(2.16.840.1.113733) pki(1) attributes(9) …
constexpr const char* kOidMessageType = "2.16.840.1.113733.1.9.2";
constexpr const char* kOidPkiStatus = "2.16.840.1.113733.1.9.3";
constexpr const char* kOidFailInfo = "2.16.840.1.113733.1.9.4";
constexpr const char* kOidSenderNonce = "2.16.840.1.113733.1.9.5";
constexpr const char* kOidRecipientNonce = "2.16.840.1.113733.1.9.6";
constexpr const char* kOidTransactionId = "2.16.840.1.113733.1.9.7";

constexpr unsigned kCmsFlags = CMS_BINARY | CMS_NOSMIMECAP;
constexpr std::size_t kNonceBytes = 16;   // RFC 8894 §3.2.1.5
// One answer for every envelope that does not yield a messageData: a wrong wrapped key, a
// wrong content padding, content that is not the message type's structure. Telling them
// apart would tell a sender whether its wrapped key was well formed (RFC 3218 §2.3.2).
constexpr FailInfo kUndecryptableInfo = FailInfo::bad_message_check;
constexpr const char* kUndecryptable = "pkcsPKIEnvelope does not decrypt to a messageData";

ca::Asn1ObjectPtr oid(const char* text) { return ca::Asn1ObjectPtr(ca::check_ptr(OBJ_txt2obj(text, 1), "OBJ_txt2obj")); }

// A single-valued signed attribute as raw bytes. RFC 8894 says PrintableString
// (OCTET STRING for the nonces); any string type is accepted, because being strict here
// only turns a readable request into an unanswerable one.
std::optional<std::string> signed_attribute(CMS_SignerInfo* si, const char* oid_text) {
  const auto obj = oid(oid_text);
  const int idx = CMS_signed_get_attr_by_OBJ(si, obj.get(), -1);
  if (idx < 0) return std::nullopt;
  X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, idx);
  if (attr == nullptr || X509_ATTRIBUTE_count(attr) != 1) return std::nullopt;
  const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attr, 0);
  switch (value ? ASN1_TYPE_get(value) : -1) {
    case V_ASN1_PRINTABLESTRING: case V_ASN1_UTF8STRING: case V_ASN1_IA5STRING: case V_ASN1_T61STRING:
    case V_ASN1_OCTET_STRING:
      break;
    default:
      return std::nullopt;
  }
  const ASN1_STRING* s = value->value.asn1_string;
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

void add_signed_attribute(CMS_SignerInfo* si, const char* oid_text, int type, std::string_view value) {
  const auto obj = oid(oid_text);
  ca::check(CMS_signed_add1_attr_by_OBJ(si, obj.get(), type, value.data(), static_cast<int>(value.size())),
            "CMS_signed_add1_attr_by_OBJ");
}

std::optional<MessageType> parse_message_type(const std::string& text) {
  if (text.empty() || text.size() > 3 || !std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return std::nullopt;
  switch (std::stoi(text)) {
    case 17: return MessageType::renewal_req;
    case 19: return MessageType::pkcs_req;
    case 20: return MessageType::cert_poll;
    case 21: return MessageType::get_cert;
    case 22: return MessageType::get_crl;
    default: return std::nullopt;
  }
}

// SHA-256/SHA-512 as advertised in GetCACaps; SHA-384 because it costs nothing; SHA-1
// only for legacy clients (RFC 8894 §3.5.2 deprecates it).
bool digest_allowed(int nid, const CryptoPolicy& policy) {
  switch (nid) {
    case NID_sha256: case NID_sha384: case NID_sha512: return true;
    case NID_sha1: return policy.allow_legacy_crypto;
    default: return false;
  }
}

// AES and DES3 as advertised; single DES only for legacy clients (micromdm scepclient
// 2.1.0 encrypts with DES-CBC whatever GetCACaps says).
bool cipher_allowed(int nid, const CryptoPolicy& policy) {
  switch (nid) {
    case NID_aes_128_cbc: case NID_aes_192_cbc: case NID_aes_256_cbc: case NID_des_ede3_cbc: return true;
    case NID_des_cbc: return policy.allow_legacy_crypto;
    default: return false;
  }
}

// The requester's certificate, parsed key-less with the message, made usable for checking
// the signature and encrypting the reply. An RSA key (what SCEP clients use) is read from
// its bits as a legacy-method key and set on the certificate (ca::legacy_rsa_public_key);
// any other type gets the certificate re-read in full from `der`, which decodes its key
// the usual way. nullptr only if the certificate cannot be read at all.
ca::X509Ptr signer_with_key(X509* keyless, const Bytes& der) {
  if (ca::EvpPkeyPtr rsa = ca::legacy_rsa_public_key(X509_get_X509_PUBKEY(keyless))) {
    ca::check(X509_set_pubkey(keyless, rsa.get()), "X509_set_pubkey");
    ca::check(X509_up_ref(keyless), "X509_up_ref");
    return ca::X509Ptr(keyless);
  }
  try {
    return ca::cert_from_der(der);
  } catch (const std::exception&) {
    ERR_clear_error();
    return nullptr;
  }
}

// A STACK_OF(X509) holding its own reference to each certificate, for the CMS calls that
// take one (signer candidates, recipients, extra certificates).
ca::X509StackPtr certificate_stack(std::span<const X509* const> certificates) {
  ca::X509StackPtr stack(ca::check_ptr(sk_X509_new_null(), "sk_X509_new_null"));
  for (const X509* cert : certificates) {
    ca::check(X509_up_ref(const_cast<X509*>(cert)), "X509_up_ref");
    ca::X509Ptr reference(const_cast<X509*>(cert));   // owned here until the stack takes it
    if (sk_X509_push(stack.get(), reference.get()) <= 0) throw ca::OpenSslError("sk_X509_push");
    reference.release();
  }
  return stack;
}

ca::X509StackPtr certificate_stack(const X509* certificate) { return certificate_stack(std::span(&certificate, 1)); }

Bytes bio_bytes(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return Bytes(reinterpret_cast<std::uint8_t*>(data), reinterpret_cast<std::uint8_t*>(data) + len);
}

void fail(PkiRequest& request, FailInfo info, std::string reason) {
  ERR_clear_error();   // the OpenSSL queue holds the details; keep it from leaking into later calls
  request.failure = info;
  request.failure_reason = std::move(reason);
}

// The content cipher and key transport of an EnvelopedData, and its PKCS#7 view, which
// open_envelope decrypts (CMS has no accessor for the content-encryption algorithm).
struct EnvelopeAlgorithms {
  int cipher_nid = NID_undef;
  bool rsa_key_transport = true;
  ca::Pkcs7Ptr p7;
};

EnvelopeAlgorithms envelope_algorithms(const Bytes& envelope) {
  EnvelopeAlgorithms out;
  const unsigned char* p = envelope.data();
  out.p7.reset(d2i_PKCS7(nullptr, &p, static_cast<long>(envelope.size())));
  if (!out.p7 || !PKCS7_type_is_enveloped(out.p7.get())) {
    ERR_clear_error();
    out.p7.reset();
    return out;
  }
  const PKCS7_ENVELOPE* env = out.p7->d.enveloped;
  out.cipher_nid = OBJ_obj2nid(env->enc_data->algorithm->algorithm);
  // RSA PKCS#1 v1.5 (rsaEncryption) and RSAES-OAEP key transport (RFC 8894 §3.2.2).
  for (int i = 0; i < sk_PKCS7_RECIP_INFO_num(env->recipientinfo); ++i) {
    const PKCS7_RECIP_INFO* ri = sk_PKCS7_RECIP_INFO_value(env->recipientinfo, i);
    const int nid = OBJ_obj2nid(ri->key_enc_algor->algorithm);
    if (nid != NID_rsaEncryption && nid != NID_rsaesOaep) out.rsa_key_transport = false;
  }
  return out;
}

void read_csr(PkiRequest& request) {
  // The key is taken later by ca::Issuer (csr_public_key): not decoded twice.
  request.csr = ca::csr_from_der_without_key(request.message_data);
  if (!request.csr) return fail(request, kUndecryptableInfo, kUndecryptable);
  const int idx = X509_REQ_get_attr_by_NID(request.csr.get(), NID_pkcs9_challengePassword, -1);
  if (idx < 0) return;
  X509_ATTRIBUTE* attr = X509_REQ_get_attr(request.csr.get(), idx);
  const ASN1_TYPE* value = attr ? X509_ATTRIBUTE_get0_type(attr, 0) : nullptr;
  // RFC 2985 §5.4.1: DirectoryString; clients send PrintableString or UTF8String.
  if (value == nullptr || (ASN1_TYPE_get(value) != V_ASN1_PRINTABLESTRING && ASN1_TYPE_get(value) != V_ASN1_UTF8STRING &&
                           ASN1_TYPE_get(value) != V_ASN1_IA5STRING && ASN1_TYPE_get(value) != V_ASN1_T61STRING))
    return fail(request, FailInfo::bad_request, "challengePassword is not a string");
  const ASN1_STRING* s = value->value.asn1_string;
  request.challenge_password.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                    static_cast<std::size_t>(ASN1_STRING_length(s)));
}

void read_issuer_and_serial(PkiRequest& request) {
  const unsigned char* p = request.message_data.data();
  ca::Pkcs7IssuerAndSerialPtr ias(
      d2i_PKCS7_ISSUER_AND_SERIAL(nullptr, &p, static_cast<long>(request.message_data.size())));
  if (!ias) return fail(request, kUndecryptableInfo, kUndecryptable);
  ca::BignumPtr bn(ASN1_INTEGER_to_BN(ias->serial, nullptr));
  if (!bn) return fail(request, kUndecryptableInfo, kUndecryptable);
  Bytes serial(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), serial.data());
  request.requested_serial_hex = ca::to_hex(serial);
  request.requested_issuer.reset(ca::check_ptr(X509_NAME_dup(ias->issuer), "X509_NAME_dup"));
}

// CertPoll (RFC 8894 §3.3.3): IssuerAndSubject, a SEQUENCE. The transactionID is what
// identifies the request, so its names are not read; but it must be one whole DER
// SEQUENCE, or content decrypted with a wrong key would pass for a poll.
void check_issuer_and_subject(PkiRequest& request) {
  const unsigned char* p = request.message_data.data();
  const auto size = static_cast<long>(request.message_data.size());
  long length = 0;
  int tag = 0, cls = 0;
  const int flags = ASN1_get_object(&p, &length, &tag, &cls, size);
  if ((flags & 0x80) != 0 || (flags & V_ASN1_CONSTRUCTED) == 0 || tag != V_ASN1_SEQUENCE ||
      cls != V_ASN1_UNIVERSAL || p + length != request.message_data.data() + size)
    fail(request, kUndecryptableInfo, kUndecryptable);
}

}  // namespace

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::cert_rep: return "CertRep";
    case MessageType::renewal_req: return "RenewalReq";
    case MessageType::pkcs_req: return "PKCSReq";
    case MessageType::cert_poll: return "CertPoll";
    case MessageType::get_cert: return "GetCert";
    case MessageType::get_crl: return "GetCRL";
  }
  return "unknown";
}

const char* to_string(FailInfo info) {
  switch (info) {
    case FailInfo::bad_alg: return "badAlg";
    case FailInfo::bad_message_check: return "badMessageCheck";
    case FailInfo::bad_request: return "badRequest";
    case FailInfo::bad_time: return "badTime";
    case FailInfo::bad_cert_id: return "badCertId";
  }
  return "unknown";
}

void enable_legacy_crypto() {
  static std::once_flag once;
  static ca::OsslProviderPtr legacy, fallback;
  std::call_once(once, [] {
    // Loading any provider explicitly stops OpenSSL from loading "default" on its own,
    // so it is loaded too.
    fallback.reset(OSSL_PROVIDER_load(nullptr, "default"));
    legacy.reset(OSSL_PROVIDER_load(nullptr, "legacy"));
  });
  if (!legacy || !fallback) {
    ERR_clear_error();
    throw std::runtime_error("the OpenSSL legacy provider (single DES for [scep] allow_legacy_crypto) is not available");
  }
}

namespace {

// RFC 8894 §3.1: ContentInfo SignedData with exactly one signer. Parsed key-less
// (ca::keyless_library_context): OpenSSL 3.0 would set up its decoders (~85 µs) for the
// key of every certificate in it, where only the signer's is needed (signer_with_key).
ca::CmsPtr parse_signed_data(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  ca::CmsPtr cms(reinterpret_cast<CMS_ContentInfo*>(ASN1_item_d2i_ex(
      nullptr, &p, static_cast<long>(der.size()), ASN1_ITEM_rptr(CMS_ContentInfo), ca::keyless_library_context(), nullptr)));
  if (!cms || p != der.data() + der.size() || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    ERR_clear_error();
    throw MalformedMessage("not a CMS SignedData");
  }
  if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms.get())) != 1)
    throw MalformedMessage("a pkiMessage has exactly one signer");
  return cms;
}

// RFC 8894 §3.2.1: transactionID, messageType and senderNonce are what a CertRep echoes;
// without them no reply can be formed, so their absence throws.
void read_reply_attributes(CMS_SignerInfo* si, PkiRequest& request) {
  const auto transaction_id = signed_attribute(si, kOidTransactionId);
  const auto message_type = signed_attribute(si, kOidMessageType);
  const auto sender_nonce = signed_attribute(si, kOidSenderNonce);
  if (!transaction_id || transaction_id->empty() || transaction_id->size() > 256 || !message_type || !sender_nonce ||
      sender_nonce->empty() || sender_nonce->size() > 64)
    throw MalformedMessage("transactionID, messageType or senderNonce missing");
  // PrintableString in RFC 8894 §3.2.1.1; printable ASCII is enforced because the value
  // is echoed, stored and logged.
  if (!std::all_of(transaction_id->begin(), transaction_id->end(), [](char c) { return c >= 0x20 && c <= 0x7E; }))
    throw MalformedMessage("transactionID is not printable");
  const auto type = parse_message_type(*message_type);
  if (!type) throw MalformedMessage("unknown messageType");
  request.type = *type;
  request.transaction_id = *transaction_id;
  request.sender_nonce.assign(sender_nonce->begin(), sender_nonce->end());
}

int signer_digest_nid(CMS_SignerInfo* si) {
  X509_ALGOR* digest_alg = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest_alg, nullptr);
  const ASN1_OBJECT* digest_obj = nullptr;
  if (digest_alg != nullptr) X509_ALGOR_get0(&digest_obj, nullptr, nullptr, digest_alg);
  return digest_obj ? OBJ_obj2nid(digest_obj) : NID_undef;
}

// The signer's certificate from the message into request.signer (parsed with its key);
// false, with the failure set, when it is missing, unreadable or its key cannot receive
// the encrypted reply.
bool read_signer(CMS_ContentInfo* cms, CMS_SignerInfo* si, PkiRequest& request) {
  ca::X509StackPtr certs(CMS_get1_certs(cms));
  X509* keyless_signer = nullptr;
  for (int i = 0; certs && i < sk_X509_num(certs.get()); ++i) {
    if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs.get(), i)) == 0) {
      keyless_signer = sk_X509_value(certs.get(), i);
      break;
    }
  }
  if (keyless_signer == nullptr) {
    fail(request, FailInfo::bad_message_check, "the signer's certificate is not in the message");
    return false;
  }
  // The DER as received (still cached: nothing has modified the certificate yet).
  request.signer_der = ca::to_der(keyless_signer, i2d_X509, "i2d_X509");
  // Hashed here, not with X509_digest: that computes in the certificate's own library
  // context, which for a key-less parse has no SHA-256.
  request.requester_sha256 = ca::sha256_lower_hex(request.signer_der);
  request.signer = signer_with_key(keyless_signer, request.signer_der);
  if (!request.signer) {
    fail(request, FailInfo::bad_message_check, "the signer's certificate is unreadable");
    return false;
  }
  // The reply is encrypted to this key (RFC 8894 §3.3.2): RSA key transport, or ECDH for
  // an EC key; anything else could be signed with but never answered.
  const EVP_PKEY* signer_key = X509_get0_pubkey(request.signer.get());
  if (signer_key == nullptr || (EVP_PKEY_get_base_id(signer_key) != EVP_PKEY_RSA && EVP_PKEY_get_base_id(signer_key) != EVP_PKEY_EC)) {
    fail(request, FailInfo::bad_alg, "the signer's key can not receive an encrypted reply");
    return false;
  }
  return true;
}

// The signature over the signed attributes and the messageDigest over the content; the
// content (the pkcsPKIEnvelope) when both verify. The signer's certificate is self-signed
// or ours: who it is gets decided by the enrollment policy, so no chain is built here
// (CMS_NO_SIGNER_CERT_VERIFY). The key comes from request.signer, given as the only
// candidate (CMS_NOINTERN).
std::optional<Bytes> verified_content(CMS_ContentInfo* cms, PkiRequest& request) {
  const ca::X509StackPtr signer_stack = certificate_stack(request.signer.get());
  ca::BioPtr envelope_bio(ca::check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
  if (CMS_verify(cms, signer_stack.get(), nullptr, nullptr, envelope_bio.get(),
                 kCmsFlags | CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN) != 1) {
    fail(request, FailInfo::bad_message_check, "signature does not verify");
    return std::nullopt;
  }
  return bio_bytes(envelope_bio.get());
}

// RFC 8894 §3.2.2: pkcsPKIEnvelope, EnvelopedData to the RA certificate, decrypted into
// request.message_data; false, with the failure set, otherwise.
bool open_pki_envelope(const Bytes& envelope, const X509* ra_cert, EVP_PKEY* ra_key, const CryptoPolicy& policy,
                       PkiRequest& request) {
  const unsigned char* q = envelope.data();
  ca::CmsPtr env(d2i_CMS_ContentInfo(nullptr, &q, static_cast<long>(envelope.size())));
  if (!env || OBJ_obj2nid(CMS_get0_type(env.get())) != NID_pkcs7_enveloped) {
    fail(request, FailInfo::bad_message_check, "content is not an EnvelopedData");
    return false;
  }
  const EnvelopeAlgorithms algs = envelope_algorithms(envelope);
  if (!algs.rsa_key_transport) {
    fail(request, FailInfo::bad_alg, "key transport is neither RSA PKCS#1 v1.5 nor RSAES-OAEP");
    return false;
  }
  if (!cipher_allowed(algs.cipher_nid, policy)) {
    fail(request, FailInfo::bad_alg, "content encryption algorithm not allowed");
    return false;
  }
  request.cipher_nid = algs.cipher_nid;
  // Not CMS_decrypt: on OpenSSL 3.0 its RSA PKCS#1 v1.5 key transport takes another path
  // for a malformed block than for a well-formed one (envelope.hpp).
  std::optional<Bytes> content = open_envelope(algs.p7.get(), ra_cert, ra_key);
  if (!content) {
    fail(request, kUndecryptableInfo, kUndecryptable);
    return false;
  }
  request.message_data = std::move(*content);
  return true;
}

void read_message_data(PkiRequest& request) {
  switch (request.type) {
    case MessageType::pkcs_req:
    case MessageType::renewal_req:
      read_csr(request);
      break;
    case MessageType::get_cert:
    case MessageType::get_crl:
      read_issuer_and_serial(request);
      break;
    case MessageType::cert_poll:
      check_issuer_and_subject(request);
      break;
    case MessageType::cert_rep:
      break;   // refused by parse_message_type
  }
}

}  // namespace

PkiRequest parse_request(std::span<const std::uint8_t> der, const X509* ra_cert, EVP_PKEY* ra_key,
                         const CryptoPolicy& policy) {
  const ca::CmsPtr cms = parse_signed_data(der);
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
  PkiRequest request;
  read_reply_attributes(si, request);
  const int digest_nid = signer_digest_nid(si);
  // RFC 8894 §3.3: the reply uses the request's digest; an unacceptable one is answered
  // (badAlg) with SHA-256 instead.
  request.digest_nid = digest_allowed(digest_nid, policy) ? digest_nid : NID_sha256;
  if (!read_signer(cms.get(), si, request)) return request;
  if (!digest_allowed(digest_nid, policy)) {
    fail(request, FailInfo::bad_alg, "digest algorithm not allowed");
    return request;
  }
  const std::optional<Bytes> envelope = verified_content(cms.get(), request);
  if (!envelope || !open_pki_envelope(*envelope, ra_cert, ra_key, policy, request)) return request;
  read_message_data(request);
  return request;
}

ca::Bytes degenerate_pkcs7(std::span<const X509* const> certificates) {
  ca::Pkcs7Ptr p7(ca::check_ptr(PKCS7_new(), "PKCS7_new"));
  ca::check(PKCS7_set_type(p7.get(), NID_pkcs7_signed), "PKCS7_set_type");
  // Content type id-data with the content itself absent, as `openssl crl2pkcs7` writes it.
  p7->d.sign->contents->type = OBJ_nid2obj(NID_pkcs7_data);
  for (const X509* cert : certificates) {
    ca::check(PKCS7_add_certificate(p7.get(), const_cast<X509*>(cert)), "PKCS7_add_certificate");
  }
  return ca::to_der(p7.get(), i2d_PKCS7, "i2d_PKCS7");
}

ca::Bytes degenerate_pkcs7_crl(const X509_CRL* crl) {
  ca::Pkcs7Ptr p7(ca::check_ptr(PKCS7_new(), "PKCS7_new"));
  ca::check(PKCS7_set_type(p7.get(), NID_pkcs7_signed), "PKCS7_set_type");
  p7->d.sign->contents->type = OBJ_nid2obj(NID_pkcs7_data);
  ca::check(PKCS7_add_crl(p7.get(), const_cast<X509_CRL*>(crl)), "PKCS7_add_crl");
  return ca::to_der(p7.get(), i2d_PKCS7, "i2d_PKCS7");
}

ca::Bytes next_ca_message(std::span<const X509* const> next_certificates, const X509* ra_cert, EVP_PKEY* ra_key,
                          std::span<const X509* const> current_chain) {
  const Bytes inner = degenerate_pkcs7(next_certificates);
  ca::BioPtr data(ca::check_ptr(BIO_new_mem_buf(inner.data(), static_cast<int>(inner.size())), "BIO_new_mem_buf"));
  const ca::X509StackPtr extra = certificate_stack(current_chain);
  ca::CmsPtr cms(ca::check_ptr(
      CMS_sign(const_cast<X509*>(ra_cert), ra_key, extra.get(), data.get(), kCmsFlags), "CMS_sign"));
  return ca::to_der(cms.get(), i2d_CMS_ContentInfo, "i2d_CMS_ContentInfo");
}

ca::Bytes build_cert_rep(const PkiRequest& request, const CertRep& rep, const X509* ra_cert, EVP_PKEY* ra_key) {
  Bytes content;
  if (rep.status == PkiStatus::success) {
    if (!request.signer || (rep.certificates.empty() && rep.crl == nullptr))
      throw std::logic_error("a SUCCESS CertRep needs a recipient and a certificate or CRL");
    // RFC 8894 §3.3.2: the degenerate PKCS#7 encrypted to the requester's signing
    // certificate with the cipher the request used; for GetCRL it carries the CRL (§3.3.4).
    const Bytes inner = rep.crl != nullptr ? degenerate_pkcs7_crl(rep.crl) : degenerate_pkcs7(rep.certificates);
    ca::BioPtr in(ca::check_ptr(BIO_new_mem_buf(inner.data(), static_cast<int>(inner.size())), "BIO_new_mem_buf"));
    const ca::X509StackPtr recipients = certificate_stack(request.signer.get());
    const EVP_CIPHER* cipher = EVP_get_cipherbynid(request.cipher_nid ? request.cipher_nid : NID_aes_256_cbc);
    ca::CmsPtr env(ca::check_ptr(CMS_encrypt(recipients.get(), in.get(), ca::check_ptr(cipher, "cipher"), CMS_BINARY),
                                 "CMS_encrypt"));
    content = ca::to_der(env.get(), i2d_CMS_ContentInfo, "i2d_CMS_ContentInfo");
  }

  ca::CmsPtr cms(ca::check_ptr(CMS_sign(nullptr, nullptr, nullptr, nullptr, kCmsFlags | CMS_PARTIAL), "CMS_sign"));
  const EVP_MD* md = ca::check_ptr(EVP_get_digestbynid(request.digest_nid ? request.digest_nid : NID_sha256), "digest");
  CMS_SignerInfo* si = ca::check_ptr(
      CMS_add1_signer(cms.get(), const_cast<X509*>(ra_cert), ra_key, md, kCmsFlags | CMS_PARTIAL), "CMS_add1_signer");

  // RFC 8894 §3.3.2 signed attributes; messageType and pkiStatus are PrintableStrings of
  // decimal numbers.
  add_signed_attribute(si, kOidTransactionId, V_ASN1_PRINTABLESTRING, request.transaction_id);
  add_signed_attribute(si, kOidMessageType, V_ASN1_PRINTABLESTRING, std::to_string(static_cast<int>(MessageType::cert_rep)));
  add_signed_attribute(si, kOidPkiStatus, V_ASN1_PRINTABLESTRING, std::to_string(static_cast<int>(rep.status)));
  if (rep.status == PkiStatus::failure)
    add_signed_attribute(si, kOidFailInfo, V_ASN1_PRINTABLESTRING, std::to_string(static_cast<int>(rep.fail_info)));
  unsigned char nonce[kNonceBytes];
  ca::check(RAND_bytes(nonce, sizeof nonce), "RAND_bytes");
  add_signed_attribute(si, kOidSenderNonce, V_ASN1_OCTET_STRING,
                       std::string_view(reinterpret_cast<const char*>(nonce), sizeof nonce));
  add_signed_attribute(si, kOidRecipientNonce, V_ASN1_OCTET_STRING,
                       std::string_view(reinterpret_cast<const char*>(request.sender_nonce.data()), request.sender_nonce.size()));

  static const unsigned char kEmpty[1] = {0};
  ca::BioPtr data(ca::check_ptr(
      content.empty() ? BIO_new_mem_buf(kEmpty, 0) : BIO_new_mem_buf(content.data(), static_cast<int>(content.size())),
      "BIO_new_mem_buf"));
  ca::check(CMS_final(cms.get(), data.get(), nullptr, kCmsFlags), "CMS_final");
  return ca::to_der(cms.get(), i2d_CMS_ContentInfo, "i2d_CMS_ContentInfo");
}

}  // namespace portcullis::scep
