// RFC 5176 Dynamic Authorization client, the protocol half (no I/O): building a
// Disconnect-Request or CoA-Request for one live session and checking the NAS's answer.
// The Asio half that sends, retries and times out is radius/dynauth_client.hpp.
#pragma once

#include "ca/records.hpp"
#include "radius/clients.hpp"
#include "radius/packet.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::radius {

enum class DynauthKind : std::uint8_t { disconnect, coa };
const char* to_string(DynauthKind kind);  // "Disconnect-Request" / "CoA-Request"

// Who to ask and which session (RFC 5176 §3: NAS identification attributes plus session
// identification attributes).
struct DynauthTarget {
  std::string nas_name;                    // the NAS client's name, for logs
  IpAddress address;                       // where the NAS's requests came from
  std::uint16_t port = 3799;               // the NAS client's coa_port
  std::string secret;                      // the NAS client's shared secret
  // RADIUS/1.1 over the NAS's own RadSec connection (RFC 9765): Token, nothing signed.
  Profile profile = Profile::radius;
  // RFC 5176 §3: the NAS identification attributes exactly as the NAS sent them in its
  // own requests (a NAS matches them against itself; a value we invented would not match).
  std::optional<std::array<std::uint8_t, 4>> nas_ip_address;
  std::optional<std::array<std::uint8_t, 16>> nas_ipv6_address;
  std::string nas_identifier;
  std::string acct_session_id;             // empty until accounting told us
  std::string calling_station_id;
  std::string user_name;
};

struct DynauthRequest {
  DynauthKind kind = DynauthKind::disconnect;
  DynauthTarget target;
  std::vector<Attribute> authorization;    // CoA only: the new authorization attributes
};

// The request on the wire: NAS identification (NAS-IP-Address / NAS-IPv6-Address /
// NAS-Identifier, whichever the NAS sent), session identification (User-Name,
// Acct-Session-Id, Calling-Station-Id), Event-Timestamp (RFC 5176 §3.4: replay
// protection), for a CoA the authorization attributes, Message-Authenticator first
// (RFC 5176 §3.5, BlastRADIUS), and the Request Authenticator per RFC 5176 §2.3 / §3.5
// (MD5 over the packet with 16 zero octets and the secret).
// Throws std::invalid_argument when the request names no session at all (no
// Acct-Session-Id, Calling-Station-Id nor User-Name) or a Disconnect carries
// authorization attributes (RFC 5176 §3: a Disconnect-Request changes nothing),
// std::length_error when the packet would exceed 4096 octets.
// `id` is the Identifier (0..255; more throws std::invalid_argument), or with
// target.profile radius_1_1 the 32-bit Token (RFC 9765 §4.2.1), and then nothing is signed.
Bytes encode_dynauth_request(const DynauthRequest& request, std::uint32_t id, ca::UnixTime event_timestamp);
// The checks encode_dynauth_request() makes before encoding (same exceptions), without the
// cost of encoding: what a caller can refuse at once.
void validate_dynauth_request(const DynauthRequest& request);

enum class DynauthOutcome : std::uint8_t { ack, nak, timeout };
const char* to_string(DynauthOutcome outcome);  // "ACK" / "NAK" / "timeout"

struct DynauthResult {
  DynauthOutcome outcome = DynauthOutcome::timeout;
  std::optional<std::uint32_t> error_cause;  // RFC 5176 §3.6, from a NAK or a Protocol-Error
  int attempts = 0;
  std::chrono::milliseconds elapsed{0};      // from the first transmission to the answer
  // The NAS answered with a Protocol-Error (RFC 7930 §4, RFC 9765 §6.1), not a NAK: it could
  // not process the request. Its outcome is `nak`, a refusal, so it is acted on as one.
  bool protocol_error = false;
};

enum class ResponseCheck : std::uint8_t {
  ack,
  nak,
  not_ours,           // other Identifier, or a code that does not answer this request
  bad_authenticator,  // Response Authenticator or Message-Authenticator wrong: forged or wrong secret
  malformed,
  protocol_error,     // a Protocol-Error (code 52) answering it: the NAS could not process the request
};
const char* to_string(ResponseCheck check);

// Checks a datagram against the request it may answer: Identifier, code (41/42 for a
// Disconnect, 44/45 for a CoA, or 52 Protocol-Error), Response Authenticator over the
// request's authenticator and the secret (RFC 5176 §3.5), Message-Authenticator when
// present. `error_cause` is set from a NAK's or a Protocol-Error's Error-Cause (RFC 5176
// §3.6) when it carries one.
// A Protocol-Error is a response like any other (RFC 7930 §4): its Response Authenticator is
// computed over the request's, and its Message-Authenticator as for an Access-Request's
// reply, so both are verified the same way; one whose Original-Packet-Code names another
// code is another request's (RFC 7930 §4).
// Profile::radius_1_1: matched by the Token (RFC 9765 §4.2), no authenticator to verify.
ResponseCheck check_dynauth_response(ByteView response, ByteView request, const std::string& secret,
                                     DynauthKind kind, std::optional<std::uint32_t>* error_cause = nullptr,
                                     Profile profile = Profile::radius);

// RFC 5176 §3.6 Error-Cause values by name, for logs ("Session-Context-Not-Found").
const char* error_cause_name(std::uint32_t value);

}  // namespace portcullis::radius
