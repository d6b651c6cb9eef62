// RADIUS/1.1 negotiation on a RadSec connection (RFC 9765 §3): which ALPN protocol the
// server picks from the client's offer, and the Protocol-Error a server writes before
// closing a connection that lacks the version its client must speak. No I/O: the listener
// calls choose_alpn() from OpenSSL's ALPN callback and writes the bytes itself.
#pragma once

#include "radius/packet.hpp"

#include <string_view>

namespace portcullis::radius::radsec {

inline constexpr std::string_view kAlpnRadius10 = "radius/1.0";  // RFC 9765 §3.3: historic RADIUS/TLS
inline constexpr std::string_view kAlpnRadius11 = "radius/1.1";  // RFC 9765 §3.1

// RFC 9765 §3.3 "Version": the RADIUS versions the server accepts. The RFC's default for
// an implementation of both is "1.0, 1.1".
struct RadiusVersions {
  bool v1_0 = true;
  bool v1_1 = true;
};

enum class AlpnChoice {
  none,        // the client offered no name we know of and 1.0 is allowed: no ALPN reply, RADIUS/TLS
  radius_1_0,  // reply "radius/1.0": historic RADIUS/TLS
  radius_1_1,  // reply "radius/1.1": RADIUS/1.1
  refuse,      // TLS alert no_application_protocol (120), connection closed (RFC 7301 §3.2)
};

// The server side of RFC 9765 §3.3 for one ClientHello. `offer` is the ALPN extension's
// protocol list as on the wire (length-prefixed names). The highest version both sides
// allow wins; RADIUS/1.1 needs TLS 1.3 (RFC 9765 §3.4), so over TLS 1.2 only 1.0 is left.
// Names that are not RADIUS versions are passed over; an offer with no version the server
// accepts is refused (§3.3: "none of the names match ... MUST reply with a TLS alert").
// `*selected` points into `offer` at the chosen name (for OpenSSL), else is left alone.
AlpnChoice choose_alpn(ByteView offer, RadiusVersions allowed, bool tls13, ByteView* selected);

// The profile a connection speaks from the ALPN protocol it negotiated ("" = none).
Profile profile_of_alpn(std::string_view negotiated);

// Protocol-Error (code 52, RFC 7930 §4), unsigned, with a Reply-Message saying `why` (cut to
// one attribute) and `error_cause`:
// - RFC 9765 §3.3.1, before the server closes a connection without the version it needs:
//   Error-Cause 406 (Unsupported-Extension) and an all-zero Token;
// - RFC 9765 §6.1, the answer to a RADIUS/1.1 Access- or Accounting-Request the server could
//   not handle: 506 (Resources-Unavailable) and that request's Token.
inline constexpr std::uint32_t kUnsupportedExtension = 406;
inline constexpr std::uint32_t kResourcesUnavailable = 506;
Bytes protocol_error_packet(std::string_view why, std::uint32_t error_cause = kUnsupportedExtension,
                            std::uint32_t token = 0);

}  // namespace portcullis::radius::radsec
