#include "radius/attribute_values.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <stdexcept>

namespace portcullis::radius {

Bytes encode_integer(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

std::optional<std::uint32_t> decode_integer(ByteView v) {
  if (v.size() != 4) return std::nullopt;
  return (std::uint32_t{v[0]} << 24) | (std::uint32_t{v[1]} << 16) | (std::uint32_t{v[2]} << 8) | v[3];
}

std::optional<Ipv4Address> decode_ipv4(ByteView v) {
  if (v.size() != 4) return std::nullopt;
  Ipv4Address a{};
  std::copy(v.begin(), v.end(), a.begin());
  return a;
}

std::optional<Ipv6Address> decode_ipv6(ByteView v) {
  if (v.size() != 16) return std::nullopt;
  Ipv6Address a{};
  std::copy(v.begin(), v.end(), a.begin());
  return a;
}

Bytes encode_tagged_integer(std::uint8_t tag, std::uint32_t value) {
  if (tag > 0x1F) throw std::invalid_argument("RADIUS: tag must be 0..31 (RFC 2868 §3.1)");
  if (value > 0xFFFFFF) throw std::invalid_argument("RADIUS: tagged integer value must fit in 24 bits (RFC 2868 §3.1)");
  return {tag, static_cast<std::uint8_t>(value >> 16), static_cast<std::uint8_t>(value >> 8),
          static_cast<std::uint8_t>(value)};
}

std::optional<TaggedInteger> decode_tagged_integer(ByteView v) {
  // RFC 2868 §3.1: the Tag is 0x01-0x1F, or 0 when unused; the encoder refuses others too.
  if (v.size() != 4 || v[0] > 0x1F) return std::nullopt;
  return TaggedInteger{v[0], (std::uint32_t{v[1]} << 16) | (std::uint32_t{v[2]} << 8) | v[3]};
}

Bytes encode_tagged_string(std::uint8_t tag, ByteView value) {
  if (tag > 0x1F) throw std::invalid_argument("RADIUS: tag must be 0..31 (RFC 2868 §3.6)");
  Bytes out;
  out.reserve(value.size() + 1);
  if (tag != 0 || (!value.empty() && value[0] <= 0x1F)) out.push_back(tag);
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

TaggedString decode_tagged_string(ByteView v) {
  // RFC 2868 §3.6: "If the value of the Tag field is greater than 0x1F, it SHOULD be
  // interpreted as the first byte of the following String field."
  if (!v.empty() && v[0] <= 0x1F) return TaggedString{v[0], Bytes(v.begin() + 1, v.end())};
  return TaggedString{0, Bytes(v.begin(), v.end())};
}

Bytes encode_vendor_specific(std::uint32_t vendor, std::uint8_t vendor_type, ByteView value) {
  if (value.size() > kMaxVendorValueLength)
    throw std::length_error("RADIUS: vendor attribute value longer than 247 octets");
  Bytes out;
  out.reserve(6 + value.size());
  const Bytes id = encode_integer(vendor);
  out.insert(out.end(), id.begin(), id.end());
  out.push_back(vendor_type);
  out.push_back(static_cast<std::uint8_t>(2 + value.size()));
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

std::optional<std::vector<VendorAttribute>> decode_vendor_specific(ByteView v) {
  // Vendor-Id plus at least one sub-attribute header.
  if (v.size() < 6) return std::nullopt;
  // RFC 2865 §5.26: "The high-order octet is 0 and the low-order 3 octets are the SMI
  // Network Management Private Enterprise Code"; anything else is not this layout.
  if (v[0] != 0) return std::nullopt;
  const std::uint32_t vendor = *decode_integer(v.first(4));
  std::vector<VendorAttribute> out;
  std::size_t off = 4;
  while (off < v.size()) {
    if (v.size() - off < 2) return std::nullopt;
    const std::size_t len = v[off + 1];
    if (len < 2 || len > v.size() - off) return std::nullopt;
    out.push_back(VendorAttribute{vendor, v[off], Bytes(v.begin() + off + 2, v.begin() + off + len)});
    off += len;
  }
  return out;
}

void add_eap_message(Packet& packet, ByteView eap) {
  if (eap.empty()) {
    packet.add(attr::EapMessage, ByteView{});
    return;
  }
  for (std::size_t off = 0; off < eap.size(); off += kMaxAttributeValueLength)
    packet.add(attr::EapMessage, eap.subspan(off, std::min(kMaxAttributeValueLength, eap.size() - off)));
}

JoinedEap join_eap_message(const Packet& packet) {
  JoinedEap out;
  bool in_run = false;
  for (const Attribute& a : packet.attributes) {
    if (a.type != attr::EapMessage) {
      in_run = false;
      continue;
    }
    if (out.status == JoinedEap::Status::Joined && !in_run) {
      out.status = JoinedEap::Status::NotConsecutive;
      out.eap.clear();
      return out;
    }
    out.status = JoinedEap::Status::Joined;
    in_run = true;
    out.eap.insert(out.eap.end(), a.value.begin(), a.value.end());
  }
  return out;
}

void copy_proxy_state(const Packet& request, Packet& reply) {
  for (const Attribute& a : request.attributes)
    if (a.type == attr::ProxyState) reply.attributes.push_back(a);
}

std::string ipv4_to_string(const Ipv4Address& a) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, a.data(), buf, sizeof buf);
  return buf;
}

std::string ipv6_to_string(const Ipv6Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  return buf;
}

}  // namespace portcullis::radius
