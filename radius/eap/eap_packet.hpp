// RFC 3748 §4 EAP packets: Code | Identifier | Length | [Type | Type-Data].
// Parsing is bounds-checked and never throws on peer input: a malformed packet gives
// std::nullopt plus a reason, and RFC 3748 §4.1 says such packets are silently discarded.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace portcullis::radius::eap {

using Bytes = std::vector<std::uint8_t>;

enum class Code : std::uint8_t { request = 1, response = 2, success = 3, failure = 4 };

// RFC 3748 §5 and the IANA EAP method registry; only what this server reads or writes.
enum class Type : std::uint8_t {
  identity = 1,
  notification = 2,
  nak = 3,        // legacy Nak, RFC 3748 §5.3.1
  md5_challenge = 4,
  tls = 13,       // RFC 5216, RFC 9190
  expanded = 254, // RFC 3748 §5.7
};

inline constexpr std::size_t kHeaderSize = 4;        // Code, Identifier, Length
inline constexpr std::size_t kTypeHeaderSize = 5;    // ... plus Type
inline constexpr std::size_t kMaxPacketSize = 65535; // the Length field is 16 bits

struct Packet {
  Code code = Code::request;
  std::uint8_t identifier = 0;
  std::uint8_t type = 0;  // only for request/response
  Bytes type_data;        // what follows Type, for request/response
};

struct ParseResult {
  std::optional<Packet> packet;
  std::string error;  // set when packet is empty; safe to log (no payload bytes)
};

// Parses one EAP packet. Octets beyond Length are link-layer padding and ignored
// (RFC 3748 §4.1); Length larger than the received octets, Length below the minimum for
// the Code, Success/Failure carrying data, and unknown Codes are errors.
ParseResult parse_packet(std::span<const std::uint8_t> bytes);

// Builders. Throw std::length_error when the result would not fit the 16-bit Length.
Bytes build_request(std::uint8_t identifier, Type type, std::span<const std::uint8_t> type_data);
Bytes build_response(std::uint8_t identifier, Type type, std::span<const std::uint8_t> type_data);
Bytes build_success(std::uint8_t identifier);
Bytes build_failure(std::uint8_t identifier);

const char* to_string(Code code);

}  // namespace portcullis::radius::eap
