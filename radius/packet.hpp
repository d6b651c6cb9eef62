// RADIUS wire codec (RFC 2865 §3, §5): bounds-checked parse of one datagram into an
// ordered attribute list, encoding of requests and replies with their authenticators,
// and Message-Authenticator (RFC 2869 §5.14, RFC 3579 §3.2) verification.
// No libfreeradius here: this is the hot path, and its 3.2.1 encoder overflows at 4096.
#pragma once

#include "radius/attributes.hpp"
#include "radius/digest.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace portcullis::radius {

using Bytes = std::vector<std::uint8_t>;
using Authenticator = std::array<std::uint8_t, kAuthenticatorLength>;

// The transport profile a packet is read or written in (RFC 9765, negotiated by ALPN on a
// RadSec connection). In `radius_1_1` the header is Code, Reserved-1 (sent as 0, ignored on
// receipt), Length, a 4-octet Token and 12 reserved octets (RFC 9765 §4.1): no Identifier,
// no MD5 authenticator, no Message-Authenticator (§5.2), no attribute obfuscation (§5.1),
// and no shared secret. A Packet read in it holds the Token in authenticator[0..3] and
// zeros after, identifier 0; a Packet written in it takes its Token from there.
enum class Profile : std::uint8_t { radius, radius_1_1 };
inline constexpr std::size_t kTokenLength = 4;

// Either a value or an error kind; errors are expected outcomes on the wire, not
// exceptions (the listener counts them).
template <class T, class E>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(E error) : v_(error) {}             // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  E error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

struct Attribute {
  std::uint8_t type = 0;
  Bytes value;  // at most kMaxAttributeValueLength octets
  friend bool operator==(const Attribute&, const Attribute&) = default;
};

struct Packet {
  Code code = Code::AccessRequest;
  std::uint8_t identifier = 0;
  // As received. When encoding: the Request Authenticator of an Access-Request or
  // Status-Server (make it with random_authenticator()); ignored for other codes,
  // whose authenticator is computed.
  Authenticator authenticator{};
  std::vector<Attribute> attributes;  // wire order (RFC 2865 §5: order matters within a type)

  // Appends one attribute; throws std::length_error when value exceeds 253 octets.
  void add(std::uint8_t type, ByteView value);
  void add(std::uint8_t type, std::string_view value) { add(type, as_bytes(value)); }
  void add_integer(std::uint8_t type, std::uint32_t value);  // RFC 2865 §5: 32-bit big-endian
  // RFC 2865 §5.26 Vendor-Specific holding one sub-attribute (value <= 247 octets).
  void add_vendor(std::uint32_t vendor, std::uint8_t vendor_type, ByteView value);

  const Attribute* find(std::uint8_t type) const;        // first of that type, or null
  std::optional<std::uint32_t> integer(std::uint8_t type) const;
  // Value of the first vendor sub-attribute (vendor, vendor_type) in any Vendor-Specific.
  std::optional<Bytes> find_vendor(std::uint32_t vendor, std::uint8_t vendor_type) const;
};

// 16 unpredictable octets from RAND_bytes: the Request Authenticator of an
// Access-Request (RFC 2865 §3) and a fine State value (RFC 2865 §5.24).
Authenticator random_authenticator();

// ---- parsing ---------------------------------------------------------------
enum class ParseError : std::uint8_t {
  Truncated,     // datagram shorter than the header or than the Length field says
  BadLength,     // Length field outside 20..4096
  BadAttribute,  // attribute length < 2 or past the end, or Message-Authenticator length != 18
};
const char* to_string(ParseError e);

// Parses one datagram. Octets past the Length field are ignored (RFC 2865 §3). In
// Profile::radius_1_1 a Message-Authenticator is an "invalid attribute" (RFC 9765 §5.2,
// RFC 6929 §2.8): left out of the attribute list, the packet still processed.
Result<Packet, ParseError> parse(ByteView datagram, Profile profile = Profile::radius);

// The first Length octets of a datagram that parse() accepted: the bytes that the
// authenticators cover. Throws std::invalid_argument if the header is not valid.
ByteView packet_bytes(ByteView datagram);

// ---- authenticators on received bytes ----------------------------------------
enum class MessageAuthenticatorStatus : std::uint8_t { Absent, Valid, Invalid };

// RFC 3579 §3.2 / RFC 2869 §5.14: HMAC-MD5(secret) over the packet with the attribute's
// 16 octets zeroed. For replies, `request_authenticator` (required) stands in for the
// header's authenticator; for Accounting/CoA/Disconnect-Request the header's
// authenticator is taken as 16 zero octets (RFC 5176 §3.5). More than one
// Message-Authenticator is Invalid. Constant-time compare.
MessageAuthenticatorStatus check_message_authenticator(ByteView datagram, std::string_view secret,
                                                       const Authenticator* request_authenticator = nullptr);

// RFC 2866 §3 / RFC 5176 §3.5: Request Authenticator of an Accounting-Request,
// CoA-Request or Disconnect-Request = MD5(Code+Id+Length+16 zero octets+Attributes+Secret).
bool verify_request_authenticator(ByteView datagram, std::string_view secret);

// RFC 2865 §3: Response Authenticator = MD5(Code+Id+Length+RequestAuth+Attributes+Secret).
bool verify_response_authenticator(ByteView datagram, const Authenticator& request_authenticator,
                                   std::string_view secret);

// ---- encoding ----------------------------------------------------------------
enum class EncodeError : std::uint8_t {
  TooLarge,  // the packet would exceed 4096 octets (RFC 2865 §3)
};
const char* to_string(EncodeError e);

// Encodes a request (Access-Request, Status-Server, Accounting-Request, CoA-Request,
// Disconnect-Request). With `message_authenticator`, a Message-Authenticator is put
// first among the attributes (BlastRADIUS, CVE-2024-3596) and computed as
// check_message_authenticator() expects; Status-Server always gets one (RFC 5997 §3).
// Throws std::invalid_argument for a reply code or a caller-supplied attribute 80.
// Profile::radius_1_1: the Token from request.authenticator[0..3], nothing signed, no
// Message-Authenticator (RFC 9765 §5.2, Status-Server included); `secret` is not used.
Result<Bytes, EncodeError> encode_request(const Packet& request, std::string_view secret,
                                          bool message_authenticator = true, Profile profile = Profile::radius);

// What sits in the header while a reply's Message-Authenticator is computed.
enum class ReplyMac {
  // RFC 3579 §3.2 / RFC 2869 §5.14: the Request Authenticator (Access-* replies,
  // RFC 5176 ACK/NAK, replies to Status-Server, RFC 5997 §3).
  request_authenticator,
  // An Accounting-Response to an Accounting-Request. No RFC defines its computation for
  // accounting (RFC 3579 §3.2 covers Access-* replies only); it is computed as
  // FreeRADIUS 3 verifies it, over 16 zero octets as for the Accounting-Request
  // (RFC 2866 §3, RFC 5176 §3.5): a NAS or proxy built on it (radclient 3.2.1 included)
  // silently drops a response whose Message-Authenticator was computed over the Request
  // Authenticator, and would retransmit its accounting forever. BlastRADIUS
  // (draft-ietf-radext-deprecating-radius) asks for Message-Authenticator in every packet.
  zero_authenticator,
};

// Encodes a reply to a request whose authenticator is `request_authenticator`.
// Message-Authenticator goes first and is computed over the packet holding the
// authenticator `mac` names, before the Response Authenticator (RFC 2865 §3, RFC 2866 §3:
// the same MD5 over the Request Authenticator) replaces it. Throws std::invalid_argument
// for a request code, a supplied attribute 80, or `zero_authenticator` with a code other
// than Accounting-Response.
// Profile::radius_1_1: the request's Token (request_authenticator[0..3]) echoed, nothing
// signed, no Message-Authenticator (RFC 9765 §4.2, §5.2); `secret` and `mac` are not used.
Result<Bytes, EncodeError> encode_reply(const Packet& reply, const Authenticator& request_authenticator,
                                        std::string_view secret, bool message_authenticator = true,
                                        ReplyMac mac = ReplyMac::request_authenticator,
                                        Profile profile = Profile::radius);

}  // namespace portcullis::radius
