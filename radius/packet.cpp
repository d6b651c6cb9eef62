#include "radius/packet.hpp"

#include "radius/attribute_values.hpp"

#include "ca/constant_time.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace portcullis::radius {
namespace {

constexpr std::size_t kMessageAuthenticatorAttrLength = 2 + kAuthenticatorLength;  // RFC 3579 §3.2
constexpr Authenticator kZeroAuthenticator{};

std::size_t header_length_field(ByteView d) { return (std::size_t{d[2]} << 8) | d[3]; }

// Offsets of every Message-Authenticator attribute in an already length-checked packet;
// nullopt if the attribute walk is malformed.
std::optional<std::vector<std::size_t>> message_authenticator_offsets(ByteView pkt) {
  std::vector<std::size_t> found;
  std::size_t off = kHeaderLength;
  while (off < pkt.size()) {
    if (pkt.size() - off < 2) return std::nullopt;
    const std::size_t len = pkt[off + 1];
    if (len < 2 || len > pkt.size() - off) return std::nullopt;
    if (pkt[off] == attr::MessageAuthenticator) {
      if (len != kMessageAuthenticatorAttrLength) return std::nullopt;
      found.push_back(off);
    }
    off += len;
  }
  return found;
}

// The authenticator that stands in the header while the Message-Authenticator is computed:
// the request's for a reply (RFC 3579 §3.2), zeros for Accounting/CoA/Disconnect-Request
// (RFC 5176 §3.5), the header's own for Access-Request and Status-Server.
ByteView authenticator_for_hmac(ByteView pkt, const Authenticator* request_authenticator) {
  const auto code = static_cast<Code>(pkt[0]);
  if (is_reply(code)) {
    if (request_authenticator == nullptr)
      throw std::invalid_argument("RADIUS: checking a reply's Message-Authenticator needs the request authenticator");
    return *request_authenticator;
  }
  if (has_hashed_request_authenticator(code)) return kZeroAuthenticator;
  return pkt.subspan(4, kAuthenticatorLength);
}

// HMAC-MD5 over `pkt` with `auth` in the header and the Message-Authenticator at `ma_off`
// taken as 16 zero octets, without copying the packet.
Digest16 message_authenticator_of(ByteView pkt, ByteView auth, std::size_t ma_off, std::string_view secret) {
  const std::size_t value_off = ma_off + 2;
  return hmac_md5(as_bytes(secret), {pkt.first(4), auth, pkt.subspan(kHeaderLength, value_off - kHeaderLength),
                                     kZeroAuthenticator, pkt.subspan(value_off + kAuthenticatorLength)});
}

// Lays out header + attributes; Message-Authenticator (zeroed) first when asked.
Result<Bytes, EncodeError> lay_out(const Packet& p, bool with_message_authenticator, ByteView header_auth) {
  std::size_t total = kHeaderLength + (with_message_authenticator ? kMessageAuthenticatorAttrLength : 0);
  for (const Attribute& a : p.attributes) {
    if (a.value.size() > kMaxAttributeValueLength)
      throw std::length_error("RADIUS: attribute " + std::to_string(a.type) + " value longer than 253 octets");
    if (a.type == attr::MessageAuthenticator)
      throw std::invalid_argument("RADIUS: the encoder adds Message-Authenticator itself");
    total += 2 + a.value.size();
  }
  if (total > kMaxPacketLength) return EncodeError::TooLarge;  // RFC 2865 §3

  Bytes out;
  out.reserve(total);
  out.push_back(static_cast<std::uint8_t>(p.code));
  out.push_back(p.identifier);
  out.push_back(static_cast<std::uint8_t>(total >> 8));
  out.push_back(static_cast<std::uint8_t>(total & 0xFF));
  out.insert(out.end(), header_auth.begin(), header_auth.end());
  if (with_message_authenticator) {
    out.push_back(attr::MessageAuthenticator);
    out.push_back(static_cast<std::uint8_t>(kMessageAuthenticatorAttrLength));
    out.insert(out.end(), kAuthenticatorLength, 0);
  }
  for (const Attribute& a : p.attributes) {
    out.push_back(a.type);
    out.push_back(static_cast<std::uint8_t>(2 + a.value.size()));
    out.insert(out.end(), a.value.begin(), a.value.end());
  }
  return out;
}

// RFC 9765 §4.1: the Token, then Reserved-2 as zeros.
Authenticator token_header(const Authenticator& from) {
  Authenticator header{};
  std::copy_n(from.begin(), kTokenLength, header.begin());
  return header;
}

// RFC 9765 §4.1: Reserved-1 is sent as zero; nothing is signed (TLS protects the packet).
Result<Bytes, EncodeError> lay_out_1_1(const Packet& p, const Authenticator& token_source) {
  auto laid = lay_out(p, false, token_header(token_source));
  if (laid) laid.value()[1] = 0;
  return laid;
}

void put_message_authenticator(Bytes& out, ByteView auth, std::string_view secret) {
  const Digest16 mac = message_authenticator_of(out, auth, kHeaderLength, secret);
  std::copy(mac.begin(), mac.end(), out.begin() + kHeaderLength + 2);
}

}  // namespace

// ---- Packet ----------------------------------------------------------------------

void Packet::add(std::uint8_t type, ByteView value) {
  if (value.size() > kMaxAttributeValueLength)
    throw std::length_error("RADIUS: attribute " + std::to_string(type) + " value longer than 253 octets");
  attributes.push_back(Attribute{type, Bytes(value.begin(), value.end())});
}

void Packet::add_integer(std::uint8_t type, std::uint32_t value) { add(type, encode_integer(value)); }

void Packet::add_vendor(std::uint32_t vendor, std::uint8_t vendor_type, ByteView value) {
  add(attr::VendorSpecific, encode_vendor_specific(vendor, vendor_type, value));
}

const Attribute* Packet::find(std::uint8_t type) const {
  auto it = std::find_if(attributes.begin(), attributes.end(), [&](const Attribute& a) { return a.type == type; });
  return it == attributes.end() ? nullptr : &*it;
}

std::optional<std::uint32_t> Packet::integer(std::uint8_t type) const {
  const Attribute* a = find(type);
  if (a == nullptr) return std::nullopt;
  return decode_integer(a->value);
}

std::optional<Bytes> Packet::find_vendor(std::uint32_t vendor, std::uint8_t vendor_type) const {
  for (const Attribute& a : attributes) {
    if (a.type != attr::VendorSpecific) continue;
    auto subs = decode_vendor_specific(a.value);
    if (!subs) continue;
    for (VendorAttribute& s : *subs)
      if (s.vendor == vendor && s.type == vendor_type) return std::move(s.value);
  }
  return std::nullopt;
}

Authenticator random_authenticator() {
  Authenticator a{};
  if (RAND_bytes(a.data(), static_cast<int>(a.size())) != 1)
    throw std::runtime_error("OpenSSL: RAND_bytes failed");
  return a;
}

// ---- parsing -----------------------------------------------------------------------

const char* to_string(ParseError e) {
  switch (e) {
    case ParseError::Truncated: return "truncated";
    case ParseError::BadLength: return "bad length";
    case ParseError::BadAttribute: return "bad attribute";
  }
  return "unknown";
}

Result<Packet, ParseError> parse(ByteView d, Profile profile) {
  if (d.size() < kHeaderLength) return ParseError::Truncated;
  const std::size_t len = header_length_field(d);
  if (len < kHeaderLength || len > kMaxPacketLength) return ParseError::BadLength;  // RFC 2865 §3
  // RFC 2865 §3: a packet shorter than its Length field MUST be silently discarded;
  // octets past Length are padding and ignored.
  if (len > d.size()) return ParseError::Truncated;

  Packet p;
  p.code = static_cast<Code>(d[0]);
  const bool v11 = profile == Profile::radius_1_1;
  // RFC 9765 §4.1: Reserved-1 and Reserved-2 are ignored on receipt.
  p.identifier = v11 ? 0 : d[1];
  std::copy_n(d.begin() + 4, v11 ? kTokenLength : kAuthenticatorLength, p.authenticator.begin());
  std::size_t off = kHeaderLength;
  while (off < len) {
    if (len - off < 2) return ParseError::BadAttribute;
    const std::uint8_t type = d[off];
    const std::size_t alen = d[off + 1];
    if (alen < 2 || alen > len - off) return ParseError::BadAttribute;  // RFC 2865 §5
    if (v11 && type == attr::MessageAuthenticator) {  // RFC 9765 §5.2: meaningless, discarded
      off += alen;
      continue;
    }
    if (type == attr::MessageAuthenticator && alen != kMessageAuthenticatorAttrLength)
      return ParseError::BadAttribute;  // RFC 2869 §5.14: Length = 18
    p.attributes.push_back(Attribute{type, Bytes(d.begin() + off + 2, d.begin() + off + alen)});
    off += alen;
  }
  return p;
}

ByteView packet_bytes(ByteView d) {
  if (d.size() < kHeaderLength) throw std::invalid_argument("RADIUS: datagram shorter than the header");
  const std::size_t len = header_length_field(d);
  if (len < kHeaderLength || len > kMaxPacketLength || len > d.size())
    throw std::invalid_argument("RADIUS: bad Length field");
  return d.first(len);
}

// ---- authenticators ----------------------------------------------------------------

MessageAuthenticatorStatus check_message_authenticator(ByteView datagram, std::string_view secret,
                                                       const Authenticator* request_authenticator) {
  const ByteView pkt = packet_bytes(datagram);
  const ByteView auth = authenticator_for_hmac(pkt, request_authenticator);
  const auto offsets = message_authenticator_offsets(pkt);
  if (!offsets) return MessageAuthenticatorStatus::Invalid;
  if (offsets->empty()) return MessageAuthenticatorStatus::Absent;
  if (offsets->size() > 1) return MessageAuthenticatorStatus::Invalid;  // RFC 3579 §3.2: at most one
  const std::size_t off = offsets->front();
  const Digest16 expected = message_authenticator_of(pkt, auth, off, secret);
  return ca::constant_time_equal(expected, pkt.subspan(off + 2, kAuthenticatorLength))
             ? MessageAuthenticatorStatus::Valid
             : MessageAuthenticatorStatus::Invalid;
}

bool verify_request_authenticator(ByteView datagram, std::string_view secret) {
  const ByteView pkt = packet_bytes(datagram);
  const Digest16 expected =
      md5({pkt.first(4), kZeroAuthenticator, pkt.subspan(kHeaderLength), as_bytes(secret)});
  return ca::constant_time_equal(expected, pkt.subspan(4, kAuthenticatorLength));
}

bool verify_response_authenticator(ByteView datagram, const Authenticator& request_authenticator,
                                   std::string_view secret) {
  const ByteView pkt = packet_bytes(datagram);
  const Digest16 expected =
      md5({pkt.first(4), request_authenticator, pkt.subspan(kHeaderLength), as_bytes(secret)});
  return ca::constant_time_equal(expected, pkt.subspan(4, kAuthenticatorLength));
}

// ---- encoding ------------------------------------------------------------------------

const char* to_string(EncodeError e) {
  switch (e) {
    case EncodeError::TooLarge: return "packet larger than 4096 octets";
  }
  return "unknown";
}

Result<Bytes, EncodeError> encode_request(const Packet& request, std::string_view secret,
                                          bool message_authenticator, Profile profile) {
  if (is_reply(request.code)) throw std::invalid_argument("RADIUS: encode_request called with a reply code");
  if (profile == Profile::radius_1_1) return lay_out_1_1(request, request.authenticator);
  const bool with_ma = message_authenticator || request.code == Code::StatusServer;  // RFC 5997 §3
  const bool hashed = has_hashed_request_authenticator(request.code);
  auto laid = lay_out(request, with_ma, hashed ? ByteView{kZeroAuthenticator} : ByteView{request.authenticator});
  if (!laid) return laid;
  Bytes& out = laid.value();
  if (hashed) {
    // RFC 5176 §3.5: Message-Authenticator over the packet with a zero Request
    // Authenticator, then the Request Authenticator over the result (RFC 2866 §3).
    if (with_ma) put_message_authenticator(out, kZeroAuthenticator, secret);
    const Digest16 ra = md5({out, as_bytes(secret)});
    std::copy(ra.begin(), ra.end(), out.begin() + 4);
  } else if (with_ma) {
    put_message_authenticator(out, request.authenticator, secret);  // RFC 3579 §3.2
  }
  return laid;
}

Result<Bytes, EncodeError> encode_reply(const Packet& reply, const Authenticator& request_authenticator,
                                        std::string_view secret, bool message_authenticator, ReplyMac mac,
                                        Profile profile) {
  if (!is_reply(reply.code)) throw std::invalid_argument("RADIUS: encode_reply called with a request code");
  if (profile == Profile::radius_1_1) return lay_out_1_1(reply, request_authenticator);
  if (mac == ReplyMac::zero_authenticator && reply.code != Code::AccountingResponse)
    throw std::invalid_argument("RADIUS: a zero-authenticator Message-Authenticator is for Accounting-Response only");
  auto laid = lay_out(reply, message_authenticator, request_authenticator);
  if (!laid) return laid;
  Bytes& out = laid.value();
  if (message_authenticator) {
    const ByteView auth = mac == ReplyMac::zero_authenticator ? ByteView{kZeroAuthenticator}
                                                              : ByteView{request_authenticator};
    put_message_authenticator(out, auth, secret);
  }
  const Digest16 response = md5({out, as_bytes(secret)});
  std::copy(response.begin(), response.end(), out.begin() + 4);
  return laid;
}

}  // namespace portcullis::radius
