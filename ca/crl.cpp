// CRL publishing (RFC 5280 §5). The CRL is a v2 CRL issued and signed by the issuing CA
// itself (no indirect CRL, no delta CRLs), so relying parties need nothing beyond the
// chain they already hold to check it.
#include "ca/crl.hpp"

#include <openssl/pem.h>

#include <ctime>
#include <utility>

namespace portcullis::ca {
namespace {

constexpr std::int64_t kSecondsPerHour = 3600;

// ASN1_TIME_set picks UTCTime before 2050 and GeneralizedTime from 2050 on, which is
// exactly the encoding rule of RFC 5280 §5.1.2.4 / §5.1.2.5.
Asn1TimePtr make_time(UnixTime t) {
  return Asn1TimePtr(check_ptr(ASN1_TIME_set(nullptr, static_cast<std::time_t>(t)), "ASN1_TIME_set"));
}

Asn1IntegerPtr serial_from_hex(const std::string& serial_hex) {
  const Bytes magnitude = from_hex(serial_hex);
  BignumPtr bn(check_ptr(BN_bin2bn(magnitude.data(), static_cast<int>(magnitude.size()), nullptr), "BN_bin2bn"));
  return Asn1IntegerPtr(check_ptr(BN_to_ASN1_INTEGER(bn.get(), nullptr), "BN_to_ASN1_INTEGER"));
}

// One revokedCertificates entry (RFC 5280 §5.1.2.6). The reasonCode entry extension
// (§5.3.1) is left out for `unspecified`: the RFC says it SHOULD be absent rather than
// carry the value 0.
X509RevokedPtr make_entry(const RevokedEntry& revoked) {
  X509RevokedPtr entry(check_ptr(X509_REVOKED_new(), "X509_REVOKED_new"));
  const Asn1IntegerPtr serial = serial_from_hex(revoked.serial_hex);
  check(X509_REVOKED_set_serialNumber(entry.get(), serial.get()), "X509_REVOKED_set_serialNumber");
  const Asn1TimePtr when = make_time(revoked.revoked_at);
  check(X509_REVOKED_set_revocationDate(entry.get(), when.get()), "X509_REVOKED_set_revocationDate");
  if (revoked.reason != RevocationReason::unspecified) {
    Asn1EnumeratedPtr code(check_ptr(ASN1_ENUMERATED_new(), "ASN1_ENUMERATED_new"));
    check(ASN1_ENUMERATED_set(code.get(), static_cast<long>(revoked.reason)), "ASN1_ENUMERATED_set");
    // reasonCode is non-critical (§5.3.1).
    check(X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, code.get(), 0, 0), "X509_REVOKED_add1_ext_i2d");
  }
  return entry;
}

// Authority Key Identifier (§5.2.1, MUST be included): the keyIdentifier equals the
// issuing certificate's subjectKeyIdentifier so that clients pick the right key when the
// CA has been re-keyed. An imported CA without an SKI gets method (1) of §4.2.1.2, the
// SHA-1 of its subjectPublicKey, which is what such clients compute themselves.
void add_authority_key_id(X509_CRL* crl, const X509* issuing) {
  AuthorityKeyIdPtr akid(check_ptr(AUTHORITY_KEYID_new(), "AUTHORITY_KEYID_new"));
  // X509_get_ext_d2i rather than X509_get0_subject_key_id: the latter wants a mutable
  // certificate (it fills a cache), and the Authority is shared read-only across threads.
  Asn1OctetStringPtr ski(
      static_cast<ASN1_OCTET_STRING*>(X509_get_ext_d2i(issuing, NID_subject_key_identifier, nullptr, nullptr)));
  if (ski) {
    akid->keyid = ski.release();
  } else {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    check(X509_pubkey_digest(issuing, EVP_sha1(), md, &md_len), "X509_pubkey_digest");
    akid->keyid = check_ptr(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new");
    check(ASN1_OCTET_STRING_set(akid->keyid, md, static_cast<int>(md_len)), "ASN1_OCTET_STRING_set");
  }
  check(X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid.get(), 0, 0), "X509_CRL_add1_ext_i2d(AKI)");
}

std::string crl_to_pem(X509_CRL* crl) {
  BioPtr bio(check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_X509_CRL(bio.get(), crl), "PEM_write_bio_X509_CRL");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

CrlPublisher::CrlPublisher(const Authority& authority, CertificateStore& ledger, CrlSettings settings)
    : authority_(authority), ledger_(ledger), settings_(settings) {}

PublishedCrl CrlPublisher::build(UnixTime now) {
  // The number is drawn before the revocations are read: a CRL with a higher number then
  // always reflects at least every revocation committed before a lower one was drawn.
  const std::int64_t number = ledger_.next_crl_number();
  const std::vector<RevokedEntry> revoked = ledger_.revoked_certificates();

  const X509* issuing = authority_.issuing();
  X509CrlPtr crl(check_ptr(X509_CRL_new(), "X509_CRL_new"));
  // v2 (value 1) is required as soon as extensions are present (§5.1.2.1).
  check(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2), "X509_CRL_set_version");
  // The issuer field must equal the issuing certificate's subject (§5.1.2.3).
  check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuing)), "X509_CRL_set_issuer_name");

  const UnixTime next = now + static_cast<UnixTime>(settings_.validity_hours) * kSecondsPerHour;
  const Asn1TimePtr this_update = make_time(now);
  const Asn1TimePtr next_update = make_time(next);
  check(X509_CRL_set1_lastUpdate(crl.get(), this_update.get()), "X509_CRL_set1_lastUpdate");
  // nextUpdate is optional in the ASN.1 but conforming issuers MUST include it (§5.1.2.5).
  check(X509_CRL_set1_nextUpdate(crl.get(), next_update.get()), "X509_CRL_set1_nextUpdate");

  for (const RevokedEntry& entry : revoked) {
    X509RevokedPtr item = make_entry(entry);
    check(X509_CRL_add0_revoked(crl.get(), item.get()), "X509_CRL_add0_revoked");
    item.release();   // owned by the CRL from here on
  }
  // Sorted by serial: no semantic change, but lookups by clients (and by OpenSSL) are faster.
  check(X509_CRL_sort(crl.get()), "X509_CRL_sort");

  // CRL Number (§5.2.3): non-critical, monotonically increasing, from the ledger so that it
  // survives restarts.
  Asn1IntegerPtr crl_number(check_ptr(ASN1_INTEGER_new(), "ASN1_INTEGER_new"));
  check(ASN1_INTEGER_set_int64(crl_number.get(), number), "ASN1_INTEGER_set_int64");
  check(X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number.get(), 0, 0), "X509_CRL_add1_ext_i2d(number)");
  add_authority_key_id(crl.get(), issuing);

  if (X509_CRL_sign(crl.get(), authority_.issuing_key(), authority_.signing_digest()) <= 0) {
    throw OpenSslError("X509_CRL_sign");
  }

  PublishedCrl published;
  published.der = to_der(crl.get(), i2d_X509_CRL, "i2d_X509_CRL");
  published.pem = crl_to_pem(crl.get());
  published.number = number;
  published.this_update = now;
  published.next_update = next;
  return published;
}

void CrlPublisher::publish_locked(UnixTime now) {
  // Signing happens before mutex_ is taken: readers of current() never wait for it.
  auto fresh = std::make_shared<const PublishedCrl>(build(now));
  std::lock_guard lock(mutex_);
  current_ = std::move(fresh);
}

void CrlPublisher::regenerate(UnixTime now) {
  std::lock_guard generating(generate_mutex_);
  publish_locked(now);
}

void CrlPublisher::refresh_if_due(UnixTime now) {
  // Decided under generate_mutex_ so that concurrent callers regenerate once, not twice.
  std::lock_guard generating(generate_mutex_);
  const std::shared_ptr<const PublishedCrl> existing = current();
  const UnixTime margin = static_cast<UnixTime>(settings_.refresh_before_hours) * kSecondsPerHour;
  if (existing && existing->next_update - now >= margin) return;
  publish_locked(now);
}

std::shared_ptr<const PublishedCrl> CrlPublisher::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace portcullis::ca
