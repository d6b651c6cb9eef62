// Opening the pkcsPKIEnvelope (RFC 8894 §3.2.2): an EnvelopedData whose content-encryption
// key (CEK) is wrapped for the RA certificate with RSA, PKCS#1 v1.5 (rsaEncryption) or
// RSAES-OAEP. No I/O.
//
// Anyone may send us envelopes, and OpenSSL 3.0 has no implicit rejection for PKCS#1 v1.5
// (3.2 added it): whether an unwrapped block was well formed must not show in the answer
// nor in the time it takes (Bleichenbacher, CRYPTO '98; RFC 3218 §2.3.2). So a CEK is
// always chosen without a branch on the secret: the unwrapped one when its block is well
// formed and it has the length the content cipher needs, otherwise one derived beforehand
// from the wrapped key (rejection_key); the content is then decrypted with it either way, and a wrong key fails
// there, like any other undecryptable or unreadable content.
#pragma once

#include "ca/x509.hpp"

#include <cstdint>
#include <optional>
#include <span>

namespace portcullis::scep {

// The CEK used when the wrapped key does not unwrap to one: HKDF-SHA256 (RFC 5869) of
// `wrapped_key` keyed by a secret drawn once per process, `length` octets. Deterministic,
// as OpenSSL 3.2's implicit rejection is: the same envelope sent twice meets the same key
// whether its block is well formed or not, so repeating it cannot tell the two apart
// (a fresh random key would make only the malformed one's outcome vary). Throws
// std::runtime_error when OpenSSL cannot compute it.
ca::Bytes rejection_key(std::span<const std::uint8_t> wrapped_key, std::size_t length);

// RFC 8017 §7.2.2 step 3 for a message of exactly fallback.size() octets, in constant
// time: `em` (the RSA decryption, as long as the modulus) must be 00 || 02 || at least
// eight nonzero octets || 00 || M. Returns M when it is, `fallback` otherwise.
ca::Bytes pkcs1_v15_key_or(std::span<const std::uint8_t> em, std::span<const std::uint8_t> fallback);

// The decrypted content of `envelope` (a PKCS#7 EnvelopedData), for the RecipientInfo
// naming `ra_cert` by issuer and serial. nullopt when it does not decrypt, whatever the
// reason: a missing recipient, a bad wrapped key or a wrong content padding look alike.
std::optional<ca::Bytes> open_envelope(const PKCS7* envelope, const X509* ra_cert, EVP_PKEY* ra_key);

}  // namespace portcullis::scep
