// Why an EAP-TLS conversation failed, as a term of the fixed vocabulary of decision events
// (docs/events.md), decided where the failure is known: the TLS engine (the ledger's
// verdict on the certificate, TLS alerts, OpenSSL's handshake errors) and the
// authenticator (Nak, malformed EAP). The sentence for people stays in `reason`.
#pragma once

#include <cstdint>
#include <string>

namespace portcullis::radius::eap::reason {

inline constexpr const char* kOk = "ok";
inline constexpr const char* kNoClientCertificate = "no_client_certificate";
inline constexpr const char* kUnknownIssuer = "unknown_issuer";          // another CA's certificate
inline constexpr const char* kUnknownCertificate = "unknown_certificate"; // our CA's name, not in the ledger
inline constexpr const char* kBadSignature = "bad_signature";            // CertificateVerify did not verify
inline constexpr const char* kNotYetValid = "not_yet_valid";
inline constexpr const char* kExpired = "expired";
inline constexpr const char* kRevoked = "revoked";
inline constexpr const char* kDeviceDisabled = "device_disabled";
inline constexpr const char* kNotForClientAuth = "not_for_client_auth";  // ours, without the clientAuth EKU
inline constexpr const char* kEapMethod = "eap_method";                  // the peer wants another method
inline constexpr const char* kEapProtocol = "eap_protocol";              // malformed or out of order
inline constexpr const char* kInternalError = "internal_error";

// The RFC name of an alert description ("unknown_ca"; RFC 8446 §6, RFC 5246 §7.2), null
// for a number no RFC names.
const char* known_alert_name(std::uint8_t description);
// "tls_alert:<name>" for a TLS alert, "tls_alert:other" for a number no RFC names.
std::string tls_alert(std::uint8_t description);
// For the sentence (the event's detail): the name, or the number of an unnamed one.
std::string alert_name(std::uint8_t description);
// An EAP method type's common name ("PEAP" for 25), "type <n>" for another.
std::string eap_method_name(std::uint8_t type);

}  // namespace portcullis::radius::eap::reason
