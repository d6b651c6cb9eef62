#include "radius/radsec/alpn.hpp"

#include "radius/attribute_values.hpp"

#include <algorithm>

namespace portcullis::radius::radsec {
namespace {

constexpr std::uint8_t kProtocolError = 52;  // RFC 7930 §4

std::string_view as_text(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

}  // namespace

AlpnChoice choose_alpn(ByteView offer, RadiusVersions allowed, bool tls13, ByteView* selected) {
  ByteView v10, v11;
  bool named = false;
  // RFC 7301 §3.1: a list of non-empty names, each with a one-octet length.
  for (std::size_t off = 0; off < offer.size();) {
    const std::size_t len = offer[off];
    if (len == 0 || len > offer.size() - off - 1) return AlpnChoice::refuse;  // malformed list
    const ByteView name = offer.subspan(off + 1, len);
    named = true;
    if (as_text(name) == kAlpnRadius10) v10 = name;
    if (as_text(name) == kAlpnRadius11) v11 = name;
    off += 1 + len;
  }
  if (!named) return allowed.v1_0 ? AlpnChoice::none : AlpnChoice::refuse;
  if (!v11.empty() && allowed.v1_1 && tls13) {
    *selected = v11;
    return AlpnChoice::radius_1_1;
  }
  if (!v10.empty() && allowed.v1_0) {
    *selected = v10;
    return AlpnChoice::radius_1_0;
  }
  return AlpnChoice::refuse;
}

Profile profile_of_alpn(std::string_view negotiated) {
  return negotiated == kAlpnRadius11 ? Profile::radius_1_1 : Profile::radius;
}

Bytes protocol_error_packet(std::string_view why, std::uint32_t error_cause, std::uint32_t token) {
  const std::string_view message = why.substr(0, std::min(why.size(), kMaxAttributeValueLength));
  const Bytes cause = encode_integer(error_cause);
  const Bytes token_octets = encode_integer(token);  // RFC 9765 §4.1: network byte order
  const std::size_t length = kHeaderLength + 2 + message.size() + 2 + cause.size();
  Bytes out{kProtocolError, 0, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length & 0xFF)};
  out.insert(out.end(), token_octets.begin(), token_octets.end());
  out.resize(kHeaderLength, 0);  // Reserved-2
  out.push_back(attr::ReplyMessage);
  out.push_back(static_cast<std::uint8_t>(2 + message.size()));
  out.insert(out.end(), message.begin(), message.end());
  out.push_back(attr::ErrorCause);
  out.push_back(static_cast<std::uint8_t>(2 + cause.size()));
  out.insert(out.end(), cause.begin(), cause.end());
  return out;
}

}  // namespace portcullis::radius::radsec
