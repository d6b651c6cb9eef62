// Value formats of RADIUS attributes (RFC 2865 §5 integers, addresses and
// Vendor-Specific; RFC 2868 tags; RFC 3162 IPv6), EAP-Message split and join
// (RFC 3579 §3.1) and Proxy-State copying (RFC 2865 §5.33).
#pragma once

#include "radius/packet.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::radius {

// RFC 2865 §5: integer = 32-bit unsigned, most significant octet first.
Bytes encode_integer(std::uint32_t value);
std::optional<std::uint32_t> decode_integer(ByteView value);  // nullopt unless 4 octets

using Ipv4Address = std::array<std::uint8_t, 4>;   // network order
using Ipv6Address = std::array<std::uint8_t, 16>;  // network order (RFC 3162 §2.1)
std::optional<Ipv4Address> decode_ipv4(ByteView value);
std::optional<Ipv6Address> decode_ipv6(ByteView value);

// RFC 2868 §3.1/§3.2 (Tunnel-Type, Tunnel-Medium-Type): Tag(1) + 24-bit value.
// Tags run 0x01..0x1F; 0 means "no tunnel grouping". Throws std::invalid_argument for a
// tag > 0x1F or a value > 0xFFFFFF.
struct TaggedInteger {
  std::uint8_t tag = 0;
  std::uint32_t value = 0;
  friend bool operator==(const TaggedInteger&, const TaggedInteger&) = default;
};
Bytes encode_tagged_integer(std::uint8_t tag, std::uint32_t value);
std::optional<TaggedInteger> decode_tagged_integer(ByteView value);  // nullopt unless 4 octets, tag <= 0x1F

// RFC 2868 §3.6 (Tunnel-Private-Group-Id): an optional Tag octet; a first octet above
// 0x1F starts the string. With tag 0 the tag octet is omitted unless the string itself
// begins with an octet <= 0x1F (then 0x00 is written so the string survives intact).
struct TaggedString {
  std::uint8_t tag = 0;
  Bytes value;
  friend bool operator==(const TaggedString&, const TaggedString&) = default;
};
Bytes encode_tagged_string(std::uint8_t tag, ByteView value);
TaggedString decode_tagged_string(ByteView value);

// RFC 2865 §5.26: Vendor-Id(4) then sub-attributes Vendor-Type(1) Vendor-Length(1) Value.
struct VendorAttribute {
  std::uint32_t vendor = 0;
  std::uint8_t type = 0;
  Bytes value;
  friend bool operator==(const VendorAttribute&, const VendorAttribute&) = default;
};
// The value of one Vendor-Specific attribute holding one sub-attribute; throws
// std::length_error past 247 octets.
Bytes encode_vendor_specific(std::uint32_t vendor, std::uint8_t vendor_type, ByteView value);
// All sub-attributes of one Vendor-Specific value, or nullopt when the value does not
// follow the RFC 2865 §5.26 layout (some vendors use their own; callers keep it opaque).
std::optional<std::vector<VendorAttribute>> decode_vendor_specific(ByteView value);

// RFC 3579 §3.1: an EAP packet travels as consecutive EAP-Message attributes of at most
// 253 octets. An empty input gives one empty attribute (the EAP-Start of RFC 3579 §3.1).
void add_eap_message(Packet& packet, ByteView eap);

struct JoinedEap {
  enum class Status : std::uint8_t {
    Absent,          // no EAP-Message at all
    Joined,          // `eap` holds the concatenation
    NotConsecutive,  // EAP-Message attributes separated by others: RFC 3579 §3.1 violation
  };
  Status status = Status::Absent;
  Bytes eap;
};
JoinedEap join_eap_message(const Packet& packet);

// RFC 2865 §5.33: Proxy-State attributes of a request are copied, unmodified and in
// order, into the reply.
void copy_proxy_state(const Packet& request, Packet& reply);

// Dotted quad / RFC 5952 text, for logs.
std::string ipv4_to_string(const Ipv4Address& a);
std::string ipv6_to_string(const Ipv6Address& a);

}  // namespace portcullis::radius
