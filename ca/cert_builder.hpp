// Building and signing X.509 v3 certificates, one extension at a
// time. Every value is encoded from structures, never from OpenSSL "conf" strings, so a
// hostname or URL containing ',' or ':' cannot inject extra extension content.
#pragma once

#include "ca/x509.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace portcullis::ca {

// RFC 5280 §4.2.1.3 KeyUsage bits (bit numbers of the BIT STRING).
enum KeyUsageBit : int {
  ku_digital_signature = 0,
  ku_key_encipherment = 2,
  ku_key_cert_sign = 5,
  ku_crl_sign = 6,
};

// An X509_NAME from (short name, UTF-8 value) pairs, in order ("CN", "O", "OU", …).
X509NamePtr make_name(const std::vector<std::pair<std::string, std::string>>& rdns);

// A v3 certificate with serial, names, validity and public key set; no extensions yet.
X509Ptr new_certificate(std::span<const std::uint8_t> serial, const X509_NAME* subject, const X509_NAME* issuer,
                        EVP_PKEY* public_key, std::int64_t not_before, std::int64_t not_after);
// For an rsaEncryption SubjectPublicKeyInfo (a CSR's), the same key as a legacy-method
// EVP_PKEY read from its RSAPublicKey bits; nullptr for any other key type. Issuance
// hands it to new_certificate: OpenSSL 3.0's X509_set_pubkey() encodes such a key
// directly, while for a provider key it runs the encoder and then the decoder (about a
// tenth of an enrollment's CPU). Same modulus and exponent, same DER in the certificate.
EvpPkeyPtr legacy_rsa_public_key(const X509_PUBKEY* spki);
// A CSR's public key, whether or not the CSR was parsed with it (csr_from_der_without_key):
// RSA as legacy_rsa_public_key, any other type the key the parse decoded, or else decoded
// now from the SubjectPublicKeyInfo. nullptr when the key cannot be decoded.
EvpPkeyPtr csr_public_key(const X509_REQ* req);

void add_basic_constraints(X509* cert, bool ca, std::optional<long> path_len);   // critical
void add_key_usage(X509* cert, const std::vector<KeyUsageBit>& bits);        // critical
void add_extended_key_usage(X509* cert, const std::vector<int>& purpose_nids);  // non-critical
// SubjectKeyIdentifier: SHA-1 of the subjectPublicKey (RFC 5280 §4.2.1.2, method 1).
void add_subject_key_identifier(X509* cert);
// AuthorityKeyIdentifier keyIdentifier = the issuer's SKI (RFC 5280 §4.2.1.1). For a
// self-signed certificate pass the certificate itself (after add_subject_key_identifier).
void add_authority_key_identifier(X509* cert, const X509* issuer);
void add_subject_alt_names(X509* cert, const GENERAL_NAMES* names);            // non-critical
void add_crl_distribution_point(X509* cert, const std::string& url);          // RFC 5280 §4.2.1.13
void add_ocsp_access(X509* cert, const std::string& url);                     // RFC 5280 §4.2.2.1

GeneralNamePtr dns_name(const std::string& name);
GeneralNamePtr uri_name(const std::string& uri);
// nullptr when `text` is not an IPv4/IPv6 literal.
GeneralNamePtr ip_name(const std::string& text);

void sign_certificate(X509* cert, EVP_PKEY* key, const EVP_MD* digest);

// The key identifier RFC 5280 §4.2.1.2 method 1 gives for this certificate's public key.
Bytes public_key_identifier(const X509* cert);

}  // namespace portcullis::ca
