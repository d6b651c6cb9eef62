// RADIUS datagram decoding (RFC 2865 §3, §5): parse, walk every attribute the server
// reads, and check the authenticators (RFC 3579 §3.2, RFC 2866 §3) as the listener does.
// The custom mutator (support/radius_fixup.hpp) keeps Length and Message-Authenticator
// valid so inputs get past the integrity checks.
#define PORTCULLIS_RADIUS_MUTATOR
#include "radius/attribute_values.hpp"
#include "radius/mppe.hpp"
#include "radius/packet.hpp"
#include "support/radius_fixup.hpp"

#include <cstring>
#include <stdexcept>

using namespace portcullis::radius;

namespace {

void walk_attributes(const Packet& p, const Authenticator& request_authenticator) {
  (void)p.find(attr::UserName);
  (void)p.integer(attr::FramedMtu);
  (void)p.find_vendor(vendor::Microsoft, ms::MppeRecvKey);
  (void)join_eap_message(p);
  for (const Attribute& a : p.attributes) {
    if (a.value.size() > 253) __builtin_trap();  // the parser promised at most 253 octets
    (void)decode_integer(a.value);
    (void)decode_ipv4(a.value);
    (void)decode_ipv6(a.value);
    (void)decode_tagged_integer(a.value);
    (void)decode_tagged_string(a.value);
    if (a.type == attr::VendorSpecific) {
      if (const auto subs = decode_vendor_specific(a.value)) {
        for (const VendorAttribute& s : *subs) {
          if (s.vendor == vendor::Microsoft && (s.type == ms::MppeRecvKey || s.type == ms::MppeSendKey)) {
            (void)mppe_decrypt(s.value, portcullis::fuzz::kSecret, request_authenticator);
          }
        }
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView datagram(data, size);
  auto parsed = parse(datagram);
  if (!parsed) return 0;
  Authenticator request_authenticator;
  std::memcpy(request_authenticator.data(), portcullis::fuzz::kRequestAuthenticator, 16);
  const Packet& p = parsed.value();
  // What parse() accepted, packet_bytes() must accept too (it throws on a bad header).
  const ByteView pkt = packet_bytes(datagram);
  if (pkt.size() < 20 || pkt.size() > size) __builtin_trap();
  walk_attributes(p, request_authenticator);
  const bool reply = is_reply(p.code);
  (void)check_message_authenticator(datagram, portcullis::fuzz::kSecret, reply ? &request_authenticator : nullptr);
  if (reply) {
    (void)verify_response_authenticator(datagram, request_authenticator, portcullis::fuzz::kSecret);
  } else {
    (void)verify_request_authenticator(datagram, portcullis::fuzz::kSecret);
  }
  return 0;
}
