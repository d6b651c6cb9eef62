// OCSP responder (RFC 6960). The issuing CA signs the responses itself (§2.2, "the CA who
// issued the certificate in question"), so clients need no delegated responder
// certificate: `openssl ocsp -issuer issuing.pem -CAfile root.pem` verifies the answer.
// Statuses come from the in-memory IdentityView, never from disk.
#include "ca/ocsp.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <ctime>
#include <exception>
#include <limits>

namespace portcullis::ca {
namespace {

constexpr std::int64_t kSecondsPerHour = 3600;

// An OCSPResponse without responseBytes (§4.2.1): SEQUENCE { responseStatus ENUMERATED }.
// Encoded by hand because it is constant and must be producible when OpenSSL itself is
// failing (the internalError path).
Bytes status_only(int status) {
  return Bytes{0x30, 0x03, 0x0A, 0x01, static_cast<std::uint8_t>(status)};
}

Asn1TimePtr make_time(UnixTime t) {
  return Asn1TimePtr(check_ptr(ASN1_TIME_set(nullptr, static_cast<std::time_t>(t)), "ASN1_TIME_set"));
}

Bytes digest(const EVP_MD* md, const unsigned char* data, std::size_t len) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  check(EVP_Digest(data, len, out, &out_len, md, nullptr), "EVP_Digest");
  return Bytes(out, out + out_len);
}

bool equals(const ASN1_OCTET_STRING* s, const Bytes& expected) {
  if (s == nullptr || static_cast<std::size_t>(ASN1_STRING_length(s)) != expected.size()) return false;
  return std::equal(expected.begin(), expected.end(), ASN1_STRING_get0_data(s));
}

// The serial as the big-endian magnitude the IdentityView is keyed by, or empty for a
// negative serial, which we never issue (RFC 5280 §4.1.2.2: positive integers).
Bytes serial_magnitude(const ASN1_INTEGER* serial) {
  BignumPtr bn(check_ptr(ASN1_INTEGER_to_BN(serial, nullptr), "ASN1_INTEGER_to_BN"));
  if (BN_is_negative(bn.get())) return {};
  Bytes out(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

// Thrown for requests we refuse to answer; becomes malformedRequest (§2.3).
struct MalformedRequest {};

}  // namespace

OcspResponder::OcspResponder(const Authority& authority, const IdentityView& identities, int validity_hours)
    : authority_(authority),
      identities_(identities),
      validity_hours_(validity_hours),
      signer_(check_ptr(X509_dup(authority.issuing()), "X509_dup")) {
  const X509* issuing = authority_.issuing();

  // issuerNameHash is over the DER of the issuer's distinguished name; issuerKeyHash over
  // the value of the subjectPublicKey BIT STRING, without tag, length and unused-bits
  // octet (§4.1.1).
  const X509_NAME* subject = X509_get_subject_name(issuing);
  const Bytes name = to_der(subject, i2d_X509_NAME, "i2d_X509_NAME");
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(issuing);
  if (key == nullptr) throw OpenSslError("X509_get0_pubkey_bitstr");

  // SHA-1 is what `openssl ocsp` and most clients send (RFC 5019 §2.1.1 even mandates it;
  // the hashes only identify the issuer, so collision resistance is not at stake);
  // SHA-256 and up for clients that moved on.
  for (const EVP_MD* md : {EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512()}) {
    issuer_hashes_.push_back(IssuerHashes{
        EVP_MD_get_type(md),
        digest(md, name.data(), name.size()),
        digest(md, ASN1_STRING_get0_data(key), static_cast<std::size_t>(ASN1_STRING_length(key))),
    });
  }
}

bool OcspResponder::is_our_issuer(const OCSP_CERTID* id) const {
  ASN1_OCTET_STRING* name_hash = nullptr;
  ASN1_OBJECT* md_oid = nullptr;
  ASN1_OCTET_STRING* key_hash = nullptr;
  // OCSP_id_get0_info only reads, but its signature is not const-correct.
  if (OCSP_id_get0_info(&name_hash, &md_oid, &key_hash, nullptr, const_cast<OCSP_CERTID*>(id)) != 1) return false;
  const int nid = OBJ_obj2nid(md_oid);
  // Compared under the CertID's own hash algorithm; an algorithm we do not know cannot
  // name our CA, so the answer for that CertID is "unknown" (§2.2).
  for (const IssuerHashes& ours : issuer_hashes_) {
    if (ours.digest_nid == nid) return equals(name_hash, ours.name_hash) && equals(key_hash, ours.key_hash);
  }
  return false;
}

Bytes OcspResponder::respond(std::span<const std::uint8_t> request_der, UnixTime now) const {
  try {
    return respond_or_throw(request_der, now);
  } catch (const MalformedRequest&) {
    ERR_clear_error();   // the parse failure must not leak into later errors on this thread
    return status_only(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  } catch (const std::exception&) {
    // Signing or allocation failed: tell the client to look elsewhere rather than
    // answer something unsigned (§2.3 internalError).
    ERR_clear_error();
    return status_only(OCSP_RESPONSE_STATUS_INTERNALERROR);
  }
}

Bytes OcspResponder::respond_or_throw(std::span<const std::uint8_t> request_der, UnixTime now) const {
  if (request_der.empty() || request_der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) {
    throw MalformedRequest{};
  }
  const unsigned char* cursor = request_der.data();
  OcspRequestPtr request(d2i_OCSP_REQUEST(nullptr, &cursor, static_cast<long>(request_der.size())));
  // Trailing bytes after the OCSPRequest mean the client and we disagree on framing.
  if (!request || cursor != request_der.data() + request_der.size()) throw MalformedRequest{};
  const int count = OCSP_request_onereq_count(request.get());
  if (count <= 0 || static_cast<std::size_t>(count) > kMaxRequestsPerMessage) throw MalformedRequest{};
  // Each CertID is echoed in the response (§4.2.1), which copies it by re-encoding. Some
  // parse but do not survive that (hashAlgorithm parameters OpenSSL accepts on input and
  // cannot decode from its own output): the request is at fault, not the responder.
  for (int i = 0; i < count; ++i) {
    const OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(request.get(), i));
    if (id == nullptr || !OcspCertIdPtr(OCSP_CERTID_dup(id))) throw MalformedRequest{};
  }

  OcspBasicRespPtr basic(check_ptr(OCSP_BASICRESP_new(), "OCSP_BASICRESP_new"));
  const Asn1TimePtr this_update = make_time(now);
  const Asn1TimePtr next_update = make_time(now + static_cast<UnixTime>(validity_hours_) * kSecondsPerHour);

  for (int i = 0; i < count; ++i) {
    OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(request.get(), i));
    int status = V_OCSP_CERTSTATUS_UNKNOWN;
    int reason = OCSP_REVOKED_STATUS_NOSTATUS;
    Asn1TimePtr revoked_at;

    ASN1_INTEGER* serial = nullptr;
    if (id != nullptr && is_our_issuer(id) && OCSP_id_get0_info(nullptr, nullptr, nullptr, &serial, id) == 1 &&
        serial != nullptr) {
      const Bytes magnitude = serial_magnitude(serial);
      const Identity identity = magnitude.empty() ? Identity{} : identities_.by_serial(magnitude, now);
      switch (identity.verdict) {
        case IdentityVerdict::revoked:
          status = V_OCSP_CERTSTATUS_REVOKED;
          revoked_at = make_time(identity.revoked_at);
          // revocationReason is optional (§4.2.1); left out for unspecified, as in the CRL
          // (RFC 5280 §5.3.1).
          if (identity.revocation_reason != RevocationReason::unspecified) {
            reason = static_cast<int>(identity.revocation_reason);
          }
          break;
        case IdentityVerdict::unknown:
          // Not in our ledger: "unknown" rather than the §2.2 "revoked for non-issued"
          // extension, which would need certificateHold and a 1970 revocationTime.
          break;
        case IdentityVerdict::good:
        case IdentityVerdict::not_yet_valid:
        case IdentityVerdict::expired:
        case IdentityVerdict::device_disabled:
          // OCSP reports revocation only (§2.2 "good"): validity period and device state are
          // for the relying party's own path validation and policy.
          status = V_OCSP_CERTSTATUS_GOOD;
          break;
      }
    }
    // The CertID is echoed exactly as the client sent it (§4.2.1), hash algorithm included.
    if (OCSP_basic_add1_status(basic.get(), id, status, reason, revoked_at.get(), this_update.get(),
                               next_update.get()) == nullptr) {
      throw OpenSslError("OCSP_basic_add1_status");
    }
  }

  // Returns 2 when the request had no nonce: then the response carries none either (§4.4.1).
  if (OCSP_copy_nonce(basic.get(), request.get()) <= 0) throw OpenSslError("OCSP_copy_nonce");

  // ResponderID byKey (§4.2.2.3) keeps responses small and survives a re-issued CA
  // certificate with the same key; the issuing certificate travels in `certs` so that the
  // client can find the signer without a local copy.
  if (OCSP_basic_sign(basic.get(), signer_.get(), authority_.issuing_key(), authority_.signing_digest(), nullptr,
                      OCSP_RESPID_KEY) != 1) {
    throw OpenSslError("OCSP_basic_sign");
  }
  OcspResponsePtr response(
      check_ptr(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()), "OCSP_response_create"));
  return to_der(response.get(), i2d_OCSP_RESPONSE, "i2d_OCSP_RESPONSE");
}

}  // namespace portcullis::ca
