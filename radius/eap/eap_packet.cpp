#include "radius/eap/eap_packet.hpp"

#include <stdexcept>

namespace portcullis::radius::eap {
namespace {

Bytes build_typed(Code code, std::uint8_t identifier, Type type, std::span<const std::uint8_t> type_data) {
  const std::size_t length = kTypeHeaderSize + type_data.size();
  if (length > kMaxPacketSize) throw std::length_error("EAP packet longer than 65535 octets");
  Bytes out;
  out.reserve(length);
  out.push_back(static_cast<std::uint8_t>(code));
  out.push_back(identifier);
  out.push_back(static_cast<std::uint8_t>(length >> 8));
  out.push_back(static_cast<std::uint8_t>(length & 0xFF));
  out.push_back(static_cast<std::uint8_t>(type));
  out.insert(out.end(), type_data.begin(), type_data.end());
  return out;
}

// RFC 3748 §4.2: Success and Failure are exactly four octets.
Bytes build_bare(Code code, std::uint8_t identifier) {
  return {static_cast<std::uint8_t>(code), identifier, 0x00, 0x04};
}

ParseResult fail(std::string why) { return ParseResult{std::nullopt, std::move(why)}; }

}  // namespace

ParseResult parse_packet(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return fail("EAP packet shorter than its 4-octet header");
  const std::uint8_t raw_code = bytes[0];
  const std::size_t length = (static_cast<std::size_t>(bytes[2]) << 8) | bytes[3];
  // RFC 3748 §4.1: a Length beyond the received octets means the packet is truncated.
  if (length > bytes.size()) return fail("EAP Length " + std::to_string(length) + " exceeds the " +
                                         std::to_string(bytes.size()) + " octets received");
  if (length < kHeaderSize) return fail("EAP Length " + std::to_string(length) + " below the header size");

  Packet p;
  p.identifier = bytes[1];
  switch (raw_code) {
    case 1:
    case 2: {
      p.code = static_cast<Code>(raw_code);
      // RFC 3748 §4.1: Requests and Responses carry at least the Type octet.
      if (length < kTypeHeaderSize) return fail("EAP Request/Response without a Type");
      p.type = bytes[4];
      p.type_data.assign(bytes.begin() + kTypeHeaderSize, bytes.begin() + static_cast<std::ptrdiff_t>(length));
      break;
    }
    case 3:
    case 4:
      p.code = static_cast<Code>(raw_code);
      // RFC 3748 §4.2: Success/Failure have Length 4 exactly.
      if (length != kHeaderSize) return fail("EAP Success/Failure with data");
      break;
    default:
      // RFC 3748 §4: unknown Codes are silently discarded.
      return fail("unknown EAP Code " + std::to_string(raw_code));
  }
  return ParseResult{std::move(p), {}};
}

Bytes build_request(std::uint8_t identifier, Type type, std::span<const std::uint8_t> type_data) {
  return build_typed(Code::request, identifier, type, type_data);
}
Bytes build_response(std::uint8_t identifier, Type type, std::span<const std::uint8_t> type_data) {
  return build_typed(Code::response, identifier, type, type_data);
}
Bytes build_success(std::uint8_t identifier) { return build_bare(Code::success, identifier); }
Bytes build_failure(std::uint8_t identifier) { return build_bare(Code::failure, identifier); }

const char* to_string(Code code) {
  switch (code) {
    case Code::request: return "Request";
    case Code::response: return "Response";
    case Code::success: return "Success";
    case Code::failure: return "Failure";
  }
  return "?";
}

}  // namespace portcullis::radius::eap
