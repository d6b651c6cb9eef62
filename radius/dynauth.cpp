#include "radius/dynauth.hpp"

#include "radius/attribute_values.hpp"

#include <algorithm>
#include <stdexcept>

namespace portcullis::radius {
namespace {

constexpr Authenticator kZeroAuthenticator{};

Code request_code(DynauthKind kind) { return kind == DynauthKind::disconnect ? Code::DisconnectRequest : Code::CoaRequest; }
Code ack_code(DynauthKind kind) { return kind == DynauthKind::disconnect ? Code::DisconnectAck : Code::CoaAck; }
Code nak_code(DynauthKind kind) { return kind == DynauthKind::disconnect ? Code::DisconnectNak : Code::CoaNak; }

// RFC 5176 §3.5 computes a response's Message-Authenticator with the request's
// authenticator in the header. FreeRADIUS 3.2 (rad_sign) signs Disconnect/CoA-ACK/NAK with
// 16 zero octets there instead. Both are keyed with the shared secret, so accepting either
// opens nothing to a forger, while refusing one would make every answer of that NAS look
// forged (the Response Authenticator is checked on its own in any case).
bool message_authenticator_ok(ByteView response, const Authenticator& request_authenticator, const std::string& secret) {
  const auto status = check_message_authenticator(response, secret, &request_authenticator);
  if (status != MessageAuthenticatorStatus::Invalid) return true;
  return check_message_authenticator(response, secret, &kZeroAuthenticator) == MessageAuthenticatorStatus::Valid;
}

// RFC 7930 §4: a Protocol-Error names the code of the request it answers, so that requests
// of different codes with one Identifier are told apart. Absent (RFC 9765 matches by Token
// alone; some NASes leave it out), the Identifier or Token decides.
bool original_code_is(const Packet& p, Code code) {
  for (const Attribute& a : p.attributes) {
    if (a.type != attr::ExtendedType1 || a.value.size() != 5 || a.value[0] != ext::OriginalPacketCode) continue;
    const std::uint32_t value = std::uint32_t{a.value[1]} << 24 | std::uint32_t{a.value[2]} << 16 |
                                std::uint32_t{a.value[3]} << 8 | a.value[4];
    if (value != static_cast<std::uint32_t>(code)) return false;
  }
  return true;
}

ResponseCheck verdict(bool ack, bool nak) {
  return ack ? ResponseCheck::ack : nak ? ResponseCheck::nak : ResponseCheck::protocol_error;
}

}  // namespace

const char* to_string(DynauthKind kind) {
  return kind == DynauthKind::disconnect ? "Disconnect-Request" : "CoA-Request";
}

const char* to_string(DynauthOutcome outcome) {
  switch (outcome) {
    case DynauthOutcome::ack: return "ACK";
    case DynauthOutcome::nak: return "NAK";
    case DynauthOutcome::timeout: return "timeout";
  }
  return "unknown";
}

const char* to_string(ResponseCheck check) {
  switch (check) {
    case ResponseCheck::ack: return "ack";
    case ResponseCheck::nak: return "nak";
    case ResponseCheck::not_ours: return "not ours";
    case ResponseCheck::bad_authenticator: return "bad authenticator";
    case ResponseCheck::malformed: return "malformed";
    case ResponseCheck::protocol_error: return "Protocol-Error";
  }
  return "unknown";
}

void validate_dynauth_request(const DynauthRequest& request) {
  const DynauthTarget& t = request.target;
  if (t.acct_session_id.empty() && t.calling_station_id.empty() && t.user_name.empty())
    throw std::invalid_argument("RFC 5176: a dynamic authorization request needs a session identification attribute");
  if (request.kind == DynauthKind::disconnect && !request.authorization.empty())
    throw std::invalid_argument("RFC 5176 §3: a Disconnect-Request carries no authorization attributes");
}

Bytes encode_dynauth_request(const DynauthRequest& request, std::uint32_t id, ca::UnixTime event_timestamp) {
  validate_dynauth_request(request);
  const DynauthTarget& t = request.target;
  const bool v11 = t.profile == Profile::radius_1_1;
  if (!v11 && id > 0xFF) throw std::invalid_argument("RFC 2865 §3: an Identifier is one octet");

  Packet p;
  p.code = request_code(request.kind);
  if (v11) {
    for (std::size_t i = 0; i < kTokenLength; ++i)  // RFC 9765 §4.1: network byte order
      p.authenticator[i] = static_cast<std::uint8_t>(id >> (8 * (kTokenLength - 1 - i)));
  } else {
    p.identifier = static_cast<std::uint8_t>(id);
  }
  // RFC 5176 §3 "NAS identification attributes": the ones the NAS sent, so its own
  // matching (§3 "if the NAS does not support ... or ... does not match") succeeds.
  if (t.nas_ip_address) p.add(attr::NasIpAddress, ByteView(*t.nas_ip_address));
  if (t.nas_ipv6_address) p.add(attr::NasIpv6Address, ByteView(*t.nas_ipv6_address));
  if (!t.nas_identifier.empty()) p.add(attr::NasIdentifier, t.nas_identifier);
  // RFC 5176 §3 "Session identification attributes".
  if (!t.user_name.empty()) p.add(attr::UserName, t.user_name);
  if (!t.acct_session_id.empty()) p.add(attr::AcctSessionId, t.acct_session_id);
  if (!t.calling_station_id.empty()) p.add(attr::CallingStationId, t.calling_station_id);
  for (const Attribute& a : request.authorization) p.add(a.type, a.value);
  // RFC 5176 §3.4: with Event-Timestamp the NAS can silently discard a replayed request
  // (one outside its time window), so a captured Disconnect cannot be played again later.
  p.add_integer(attr::EventTimestamp, static_cast<std::uint32_t>(event_timestamp));

  // encode_request() computes Message-Authenticator over a zero Request Authenticator and
  // then the Request Authenticator as MD5(Code+Identifier+Length+16 zeros+Attributes+Secret):
  // RFC 5176 §2.3 and §3.5.
  // RADIUS/1.1: none of it, TLS protects the packet (RFC 9765 §4.1).
  auto wire = encode_request(p, t.secret, true, t.profile);
  if (!wire) throw std::length_error("RFC 5176 request larger than 4096 octets");
  return std::move(wire.value());
}

ResponseCheck check_dynauth_response(ByteView response, ByteView request, const std::string& secret,
                                     DynauthKind kind, std::optional<std::uint32_t>* error_cause, Profile profile) {
  if (request.size() < kHeaderLength) throw std::invalid_argument("check_dynauth_response: request too short");
  auto parsed = parse(response, profile);
  if (!parsed) return ResponseCheck::malformed;
  const Packet& p = parsed.value();
  const bool v11 = profile == Profile::radius_1_1;
  // RFC 9765 §4.2: the Token, not the Identifier, matches a response to its request.
  const bool same = v11 ? std::equal(request.begin() + 4, request.begin() + 4 + kTokenLength, p.authenticator.begin())
                        : p.identifier == request[1];
  if (!same) return ResponseCheck::not_ours;
  const bool ack = p.code == ack_code(kind);
  const bool nak = p.code == nak_code(kind);
  const bool protocol_error = p.code == Code::ProtocolError && original_code_is(p, request_code(kind));
  if (!ack && !nak && !protocol_error) return ResponseCheck::not_ours;
  if (v11) {  // nothing to verify: TLS authenticated it (RFC 9765 §4.1)
    if (!ack && error_cause != nullptr) *error_cause = p.integer(attr::ErrorCause);
    return verdict(ack, nak);
  }

  Authenticator request_authenticator{};
  std::copy_n(request.begin() + 4, kAuthenticatorLength, request_authenticator.begin());
  // RFC 5176 §3.5: Response Authenticator = MD5(Code+Identifier+Length+Request
  // Authenticator+Attributes+Secret), as for every RADIUS reply (RFC 2865 §3).
  const ByteView bytes = packet_bytes(response);
  if (!verify_response_authenticator(bytes, request_authenticator, secret)) return ResponseCheck::bad_authenticator;
  if (!message_authenticator_ok(bytes, request_authenticator, secret)) return ResponseCheck::bad_authenticator;

  if (!ack && error_cause != nullptr) *error_cause = p.integer(attr::ErrorCause);
  return verdict(ack, nak);
}

const char* error_cause_name(std::uint32_t value) {
  switch (value) {  // RFC 5176 §3.6
    case 201: return "Residual-Session-Context-Removed";
    case 202: return "Invalid-EAP-Packet";
    case 401: return "Unsupported-Attribute";
    case 402: return "Missing-Attribute";
    case 403: return "NAS-Identification-Mismatch";
    case 404: return "Invalid-Request";
    case 405: return "Unsupported-Service";
    case 406: return "Unsupported-Extension";
    case 407: return "Invalid-Attribute-Value";
    case 501: return "Administratively-Prohibited";
    case 502: return "Request-Not-Routable";
    case 503: return "Session-Context-Not-Found";
    case 504: return "Session-Context-Not-Removable";
    case 505: return "Other-Proxy-Processing-Error";
    case 506: return "Resources-Unavailable";
    case 507: return "Request-Initiated";
    case 508: return "Multiple-Session-Selection-Unsupported";
  }
  return "unknown";
}

}  // namespace portcullis::radius
