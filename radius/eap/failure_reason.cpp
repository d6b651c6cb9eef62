#include "radius/eap/failure_reason.hpp"

namespace portcullis::radius::eap::reason {

const char* known_alert_name(std::uint8_t description) {
  // RFC 8446 §6 (and RFC 5246 §7.2 for the ones TLS 1.3 dropped).
  switch (description) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 100: return "no_renegotiation";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 113: return "bad_certificate_status_response";
    case 115: return "unknown_psk_identity";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return nullptr;
  }
}

std::string alert_name(std::uint8_t description) {
  if (const char* name = known_alert_name(description)) return name;
  return "number " + std::to_string(description) + " (not one RFC 8446 names)";
}

std::string tls_alert(std::uint8_t description) {
  // The vocabulary is fixed (docs/events.md): a number a peer may choose freely must not
  // make reason codes (and metric labels) of its own.
  const char* name = known_alert_name(description);
  return std::string("tls_alert:") + (name != nullptr ? name : "other");
}

std::string eap_method_name(std::uint8_t type) {
  // IANA "Method Types" registry (RFC 3748 §7.2 and the method RFCs).
  switch (type) {
    case 4: return "MD5-Challenge";
    case 6: return "GTC";
    case 13: return "TLS";
    case 17: return "LEAP";
    case 21: return "TTLS";
    case 25: return "PEAP";
    case 26: return "MSCHAPv2";
    case 43: return "FAST";
    case 52: return "PWD";
    case 55: return "TEAP";
    default: return "type " + std::to_string(type);
  }
}

}  // namespace portcullis::radius::eap::reason
