// Certificate construction helpers. See cert_builder.hpp.
#include "ca/cert_builder.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>

#include <climits>
#include <stdexcept>

namespace portcullis::ca {

namespace {

// Adds `value` (already an ASN.1 structure) under `nid`; fails if the extension exists.
void add_encoded(X509* cert, int nid, void* value, bool critical, const char* context) {
  check(X509_add1_ext_i2d(cert, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT), context);
}

Asn1TimePtr unix_to_asn1_time(std::int64_t t) {
  // ASN1_TIME_set picks UTCTime up to 2049 and GeneralizedTime from 2050 on, as RFC 5280
  // §4.1.2.5 requires.
  return Asn1TimePtr(check_ptr(ASN1_TIME_set(nullptr, static_cast<time_t>(t)), "ASN1_TIME_set"));
}

GeneralNamePtr ia5_name(int type, const std::string& value, const char* context) {
  if (value.size() > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("name too long");
  GeneralNamePtr gn(check_ptr(GENERAL_NAME_new(), context));
  ASN1_IA5STRING* str = check_ptr(ASN1_IA5STRING_new(), context);
  if (ASN1_STRING_set(str, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(str);
    throw OpenSslError(context);
  }
  GENERAL_NAME_set0_value(gn.get(), type, str);  // gn owns str from here on
  return gn;
}

}  // namespace

X509NamePtr make_name(const std::vector<std::pair<std::string, std::string>>& rdns) {
  X509NamePtr name(check_ptr(X509_NAME_new(), "X509_NAME_new"));
  for (const auto& [field, value] : rdns) {
    if (value.size() > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("name too long");
    check(X509_NAME_add_entry_by_txt(name.get(), field.c_str(), MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(value.data()),
                                     static_cast<int>(value.size()), -1, 0),
          "X509_NAME_add_entry_by_txt");
  }
  return name;
}

X509Ptr new_certificate(std::span<const std::uint8_t> serial, const X509_NAME* subject, const X509_NAME* issuer,
                        EVP_PKEY* public_key, std::int64_t not_before, std::int64_t not_after) {
  X509Ptr cert(check_ptr(X509_new(), "X509_new"));
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");

  BignumPtr bn(check_ptr(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr), "BN_bin2bn"));
  Asn1IntegerPtr sn(check_ptr(BN_to_ASN1_INTEGER(bn.get(), nullptr), "BN_to_ASN1_INTEGER"));
  check(X509_set_serialNumber(cert.get(), sn.get()), "X509_set_serialNumber");

  check(X509_set_subject_name(cert.get(), subject), "X509_set_subject_name");
  check(X509_set_issuer_name(cert.get(), issuer), "X509_set_issuer_name");
  check(X509_set1_notBefore(cert.get(), unix_to_asn1_time(not_before).get()), "X509_set1_notBefore");
  check(X509_set1_notAfter(cert.get(), unix_to_asn1_time(not_after).get()), "X509_set1_notAfter");
  check(X509_set_pubkey(cert.get(), public_key), "X509_set_pubkey");
  return cert;
}

EvpPkeyPtr legacy_rsa_public_key(const X509_PUBKEY* spki) {
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  if (spki == nullptr || X509_PUBKEY_get0_param(&algorithm, &bits, &bits_len, nullptr, spki) != 1 ||
      OBJ_obj2nid(algorithm) != NID_rsaEncryption || bits == nullptr)
    return nullptr;
  // RFC 8017 §A.1.1: for rsaEncryption the subjectPublicKey is the RSAPublicKey DER.
  EvpPkeyPtr key(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &bits, bits_len));
  if (!key) ERR_clear_error();
  return key;
}

EvpPkeyPtr csr_public_key(const X509_REQ* req) {
  const X509_PUBKEY* spki = X509_REQ_get_X509_PUBKEY(const_cast<X509_REQ*>(req));
  if (EvpPkeyPtr rsa = legacy_rsa_public_key(spki)) return rsa;
  if (spki == nullptr) return nullptr;
  // A CSR parsed in full already holds its key: take another reference, not a second decode.
  if (EVP_PKEY* decoded = X509_REQ_get0_pubkey(const_cast<X509_REQ*>(req))) {
    check(EVP_PKEY_up_ref(decoded), "EVP_PKEY_up_ref");
    return EvpPkeyPtr(decoded);
  }
  ERR_clear_error();   // parsed key-less: nothing decoded yet
  // The SubjectPublicKeyInfo re-encoded from its parts (no key object needed), then decoded
  // in the default library context.
  const Bytes der = to_der(spki, i2d_X509_PUBKEY, "i2d_X509_PUBKEY");
  const unsigned char* p = der.data();
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key) ERR_clear_error();
  return key;
}

void add_basic_constraints(X509* cert, bool ca, std::optional<long> path_len) {
  // RFC 5280 §4.2.1.9: critical in CA certificates; we mark it critical everywhere so that
  // no relying party can ignore CA:FALSE on a leaf.
  BasicConstraintsPtr bc(check_ptr(BASIC_CONSTRAINTS_new(), "BASIC_CONSTRAINTS_new"));
  bc->ca = ca ? 0xFF : 0;
  if (ca && path_len) {
    bc->pathlen = check_ptr(ASN1_INTEGER_new(), "ASN1_INTEGER_new");
    check(ASN1_INTEGER_set(bc->pathlen, *path_len), "ASN1_INTEGER_set");
  }
  add_encoded(cert, NID_basic_constraints, bc.get(), true, "basicConstraints");
}

void add_key_usage(X509* cert, const std::vector<KeyUsageBit>& bits) {
  // RFC 5280 §4.2.1.3: "SHOULD mark this extension critical".
  Asn1BitStringPtr ku(check_ptr(ASN1_BIT_STRING_new(), "ASN1_BIT_STRING_new"));
  for (KeyUsageBit bit : bits) check(ASN1_BIT_STRING_set_bit(ku.get(), bit, 1), "ASN1_BIT_STRING_set_bit");
  add_encoded(cert, NID_key_usage, ku.get(), true, "keyUsage");
}

void add_extended_key_usage(X509* cert, const std::vector<int>& purpose_nids) {
  ExtendedKeyUsagePtr eku(check_ptr(sk_ASN1_OBJECT_new_null(), "sk_ASN1_OBJECT_new_null"));
  for (int nid : purpose_nids) {
    // OBJ_nid2obj returns a static object; freeing it later is a no-op.
    ASN1_OBJECT* obj = check_ptr(OBJ_nid2obj(nid), "OBJ_nid2obj");
    if (sk_ASN1_OBJECT_push(eku.get(), obj) <= 0) throw OpenSslError("sk_ASN1_OBJECT_push");
  }
  add_encoded(cert, NID_ext_key_usage, eku.get(), false, "extendedKeyUsage");
}

Bytes public_key_identifier(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  check(X509_pubkey_digest(cert, EVP_sha1(), md, &len), "X509_pubkey_digest");
  return Bytes(md, md + len);
}

void add_subject_key_identifier(X509* cert) {
  const Bytes id = public_key_identifier(cert);
  Asn1OctetStringPtr ski(check_ptr(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new"));
  check(ASN1_OCTET_STRING_set(ski.get(), id.data(), static_cast<int>(id.size())), "ASN1_OCTET_STRING_set");
  add_encoded(cert, NID_subject_key_identifier, ski.get(), false, "subjectKeyIdentifier");
}

void add_authority_key_identifier(X509* cert, const X509* issuer) {
  // Prefer the identifier the issuer itself publishes, so that path building matches even
  // for an imported CA whose SKI was computed by another method; fall back to method 1.
  Bytes id;
  if (const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(issuer)); ski != nullptr) {
    id.assign(ASN1_STRING_get0_data(ski), ASN1_STRING_get0_data(ski) + ASN1_STRING_length(ski));
  } else {
    id = public_key_identifier(issuer);
  }
  AuthorityKeyIdPtr akid(check_ptr(AUTHORITY_KEYID_new(), "AUTHORITY_KEYID_new"));
  akid->keyid = check_ptr(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new");
  check(ASN1_OCTET_STRING_set(akid->keyid, id.data(), static_cast<int>(id.size())), "ASN1_OCTET_STRING_set");
  add_encoded(cert, NID_authority_key_identifier, akid.get(), false, "authorityKeyIdentifier");
}

void add_subject_alt_names(X509* cert, const GENERAL_NAMES* names) {
  // RFC 5280 §4.2.1.6: critical only when the subject is empty; ours always has a CN.
  add_encoded(cert, NID_subject_alt_name, const_cast<GENERAL_NAMES*>(names), false, "subjectAltName");
}

void add_crl_distribution_point(X509* cert, const std::string& url) {
  DistPointPtr dp(check_ptr(DIST_POINT_new(), "DIST_POINT_new"));
  dp->distpoint = check_ptr(DIST_POINT_NAME_new(), "DIST_POINT_NAME_new");
  dp->distpoint->type = 0;  // fullName [0] GeneralNames
  dp->distpoint->name.fullname = check_ptr(GENERAL_NAMES_new(), "GENERAL_NAMES_new");
  GeneralNamePtr uri = uri_name(url);
  if (sk_GENERAL_NAME_push(dp->distpoint->name.fullname, uri.get()) <= 0) throw OpenSslError("sk_GENERAL_NAME_push");
  uri.release();  // owned by the stack now
  CrlDistPointsPtr dps(check_ptr(CRL_DIST_POINTS_new(), "CRL_DIST_POINTS_new"));
  if (sk_DIST_POINT_push(dps.get(), dp.get()) <= 0) throw OpenSslError("sk_DIST_POINT_push");
  dp.release();
  add_encoded(cert, NID_crl_distribution_points, dps.get(), false, "cRLDistributionPoints");
}

void add_ocsp_access(X509* cert, const std::string& url) {
  // RFC 5280 §4.2.2.1: accessMethod id-ad-ocsp, accessLocation a URI; MUST be non-critical.
  AccessDescriptionPtr ad(check_ptr(ACCESS_DESCRIPTION_new(), "ACCESS_DESCRIPTION_new"));
  ASN1_OBJECT_free(ad->method);
  ad->method = check_ptr(OBJ_nid2obj(NID_ad_OCSP), "OBJ_nid2obj");
  GENERAL_NAME_free(ad->location);
  ad->location = uri_name(url).release();
  AuthorityInfoAccessPtr aia(check_ptr(AUTHORITY_INFO_ACCESS_new(), "AUTHORITY_INFO_ACCESS_new"));
  if (sk_ACCESS_DESCRIPTION_push(aia.get(), ad.get()) <= 0) throw OpenSslError("sk_ACCESS_DESCRIPTION_push");
  ad.release();
  add_encoded(cert, NID_info_access, aia.get(), false, "authorityInfoAccess");
}

GeneralNamePtr dns_name(const std::string& name) { return ia5_name(GEN_DNS, name, "dNSName"); }
GeneralNamePtr uri_name(const std::string& uri) { return ia5_name(GEN_URI, uri, "uniformResourceIdentifier"); }

GeneralNamePtr ip_name(const std::string& text) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(text.c_str());
  if (ip == nullptr) {
    ERR_clear_error();  // "not an IP address" is an answer, not an error
    return nullptr;
  }
  GeneralNamePtr gn(GENERAL_NAME_new());
  if (!gn) {
    ASN1_OCTET_STRING_free(ip);
    throw OpenSslError("GENERAL_NAME_new");
  }
  GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, ip);
  return gn;
}

void sign_certificate(X509* cert, EVP_PKEY* key, const EVP_MD* digest) {
  if (X509_sign(cert, key, digest) <= 0) throw OpenSslError("X509_sign");
}

}  // namespace portcullis::ca
