// Key generation and key facts for the CA's own keys (root, issuing, RA, server, admin)
// and for the key checks issuance applies to CSRs.
#pragma once

#include "ca/authority.hpp"
#include "ca/x509.hpp"

#include <string>

namespace portcullis::ca {

// A fresh key pair from the default CSPRNG.
EvpPkeyPtr generate_key(KeyType type);
// The KeyType a key of ours has (RSA by size, EC by curve), for making its successor.
KeyType key_type_of(const EVP_PKEY* key);

// "P-256" / "P-384" / "P-521" for NIST EC keys, the OpenSSL group name for other curves,
// empty for non-EC keys.
std::string ec_curve_name(const EVP_PKEY* key);
bool is_rsa(const EVP_PKEY* key);
bool is_ec(const EVP_PKEY* key);

// SHA-384 for P-384 (and larger) EC keys, SHA-256 otherwise: the digest strength matches
// the key strength (NIST SP 800-57), and SHA-256 is what every supplicant accepts.
const EVP_MD* digest_for_key(const EVP_PKEY* key);

// True when `key` is the private half of the certificate's public key.
bool key_matches_certificate(const X509* cert, const EVP_PKEY* key);

}  // namespace portcullis::ca
