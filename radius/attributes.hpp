// RADIUS packet codes, attribute numbers and wire limits used by Portcullis.
// Names follow the RFCs; the dictionary (dictionary.hpp) knows every other attribute.
#pragma once

#include <cstddef>
#include <cstdint>

namespace portcullis::radius {

// RFC 2865 §3: 20-octet header, Length 20..4096.
inline constexpr std::size_t kHeaderLength = 20;
inline constexpr std::size_t kMaxPacketLength = 4096;
inline constexpr std::size_t kAuthenticatorLength = 16;
// RFC 2865 §5: Type(1) Length(1) Value, Length <= 255, so a value holds at most 253 octets.
inline constexpr std::size_t kMaxAttributeValueLength = 253;
// RFC 2865 §5.26: Vendor-Id(4) Vendor-Type(1) Vendor-Length(1) inside one attribute.
inline constexpr std::size_t kMaxVendorValueLength = kMaxAttributeValueLength - 4 - 2;

enum class Code : std::uint8_t {
  AccessRequest = 1,        // RFC 2865
  AccessAccept = 2,
  AccessReject = 3,
  AccountingRequest = 4,    // RFC 2866
  AccountingResponse = 5,
  AccessChallenge = 11,     // RFC 2865
  StatusServer = 12,        // RFC 5997
  DisconnectRequest = 40,   // RFC 5176
  DisconnectAck = 41,
  DisconnectNak = 42,
  CoaRequest = 43,
  CoaAck = 44,
  CoaNak = 45,
  ProtocolError = 52,       // RFC 7930 §4, RFC 9765 §6.1: a response to any request
};

// Replies carry a Response Authenticator computed from the request's (RFC 2865 §3,
// RFC 2866 §3, RFC 5176 §3.5).
constexpr bool is_reply(Code c) {
  switch (c) {
    case Code::AccessAccept: case Code::AccessReject: case Code::AccessChallenge:
    case Code::AccountingResponse:
    case Code::DisconnectAck: case Code::DisconnectNak: case Code::CoaAck: case Code::CoaNak:
    case Code::ProtocolError:
      return true;
    default:
      return false;
  }
}

// Requests whose Request Authenticator is MD5(packet with 16 zero octets + secret)
// (RFC 2866 §3, RFC 5176 §3.5) instead of a random nonce.
constexpr bool has_hashed_request_authenticator(Code c) {
  return c == Code::AccountingRequest || c == Code::DisconnectRequest || c == Code::CoaRequest;
}

namespace attr {
inline constexpr std::uint8_t UserName = 1;               // RFC 2865 §5.1
inline constexpr std::uint8_t UserPassword = 2;           // RFC 2865 §5.2
inline constexpr std::uint8_t NasIpAddress = 4;           // RFC 2865 §5.4
inline constexpr std::uint8_t NasPort = 5;
inline constexpr std::uint8_t ServiceType = 6;
inline constexpr std::uint8_t FramedMtu = 12;             // RFC 2865 §5.12
inline constexpr std::uint8_t ReplyMessage = 18;
inline constexpr std::uint8_t State = 24;                 // RFC 2865 §5.24
inline constexpr std::uint8_t Class = 25;                 // RFC 2865 §5.25
inline constexpr std::uint8_t VendorSpecific = 26;        // RFC 2865 §5.26
inline constexpr std::uint8_t SessionTimeout = 27;
inline constexpr std::uint8_t IdleTimeout = 28;
inline constexpr std::uint8_t CalledStationId = 30;
inline constexpr std::uint8_t CallingStationId = 31;
inline constexpr std::uint8_t NasIdentifier = 32;
inline constexpr std::uint8_t ProxyState = 33;            // RFC 2865 §5.33
inline constexpr std::uint8_t AcctStatusType = 40;        // RFC 2866 §5.1
inline constexpr std::uint8_t AcctSessionId = 44;         // RFC 2866 §5.5
inline constexpr std::uint8_t AcctInterimInterval = 85;   // RFC 2869 §5.16
inline constexpr std::uint8_t EventTimestamp = 55;        // RFC 2869 §5.3
inline constexpr std::uint8_t TunnelType = 64;            // RFC 2868 §3.1
inline constexpr std::uint8_t TunnelMediumType = 65;      // RFC 2868 §3.2
inline constexpr std::uint8_t TunnelPassword = 69;        // RFC 2868 §3.5
inline constexpr std::uint8_t NasPortType = 61;           // RFC 2865 §5.41
inline constexpr std::uint8_t EapMessage = 79;            // RFC 3579 §3.1
inline constexpr std::uint8_t MessageAuthenticator = 80;  // RFC 3579 §3.2, RFC 2869 §5.14
inline constexpr std::uint8_t TunnelPrivateGroupId = 81;  // RFC 2868 §3.6
inline constexpr std::uint8_t FilterId = 11;              // RFC 2865 §5.11
inline constexpr std::uint8_t NasIpv6Address = 95;        // RFC 3162 §2.1
inline constexpr std::uint8_t ErrorCause = 101;           // RFC 5176 §3.6
inline constexpr std::uint8_t ExtendedType1 = 241;        // RFC 6929 §2.1
}  // namespace attr

// RFC 6929 Extended-Type-1 (241) sub-types.
namespace ext {
inline constexpr std::uint8_t OriginalPacketCode = 4;     // 241.4, RFC 7930: in a Protocol-Error
}

namespace vendor {
inline constexpr std::uint32_t Microsoft = 311;  // RFC 2548
}

namespace ms {
inline constexpr std::uint8_t MppeSendKey = 16;  // RFC 2548 §2.4.2
inline constexpr std::uint8_t MppeRecvKey = 17;  // RFC 2548 §2.4.3
}

// RFC 2868 §3.1/§3.2 and RFC 3580 §3.31: dynamic VLAN assignment.
inline constexpr std::uint32_t kTunnelTypeVlan = 13;
inline constexpr std::uint32_t kTunnelMediumIeee802 = 6;

}  // namespace portcullis::radius
