// Differential fuzzing of our RADIUS codec against libfreeradius-radius 3.2.1 (the unit
// tests' oracle, tests/unit/radius/freeradius_oracle): on datagrams made valid for
// kSecret by the structure-aware mutator (support/radius_fixup.hpp),
//   - a packet the library accepts, our parser accepts too (the structural rules of
//     RFC 2865 §3/§5 are the same: we may refuse only what the library refuses);
//   - a packet both accept decodes to the same attributes, in order: tags split off
//     (RFC 2868 §3), Vendor-Specific split into sub-attributes (RFC 2865 §5.26),
//     consecutive EAP-Messages joined (RFC 3579 §3.1), MS-MPPE keys decrypted (RFC 2548).
// Where the two codecs deliberately differ the packet is not compared; each case says why.
#define PORTCULLIS_RADIUS_MUTATOR
#include "radius/attribute_values.hpp"
#include "radius/dictionary.hpp"
#include "radius/mppe.hpp"
#include "radius/packet.hpp"
#include "support/radius_fixup.hpp"
#include "tests/unit/radius/freeradius_oracle.hpp"

#include <cstdio>
#include <cstring>
#include <optional>

using namespace portcullis::radius;
using oracle::Pair;

namespace {

// Our decoding in the library's terms, or nullopt where the library decodes differently
// on purpose.
std::optional<std::vector<Pair>> ours(const Packet& p, const Authenticator& request_authenticator) {
  const Dictionary& dict = Dictionary::load();
  std::vector<Pair> out;
  bool comparable = true;
  auto push = [&](std::uint32_t vendor, std::uint32_t type, Bytes value) {
    Pair pair;
    pair.vendor = vendor;
    pair.type = type;
    const auto info = dict.find(vendor, type);
    if (info && info->has_tag) {
      if (info->data_type == DataType::Integer) {
        const auto t = decode_tagged_integer(value);
        if (!t) {
          comparable = false;  // the library keeps a malformed tagged integer as raw octets
          return;
        }
        pair.tag = t->tag;
        value = encode_integer(t->value);
      } else {
        // One octet that looks like a tag: a tag with an empty string (ours) or a one-octet
        // untagged string (the library)? RFC 2868 §3.3 wants a String of at least one octet,
        // so the value is malformed either way.
        if (value.size() == 1 && value[0] <= 0x1F) {
          comparable = false;
          return;
        }
        TaggedString t = decode_tagged_string(value);
        pair.tag = t.tag;
        value = std::move(t.value);
      }
    }
    // Structured types (TLV, combo addresses, ...) the library decodes into parts our
    // codec leaves whole; an opaque Vendor-Specific is compared raw.
    if (info && info->data_type == DataType::Other && !(vendor == 0 && type == attr::VendorSpecific)) {
      comparable = false;
      return;
    }
    const bool mppe = vendor == vendor::Microsoft && (type == ms::MppeRecvKey || type == ms::MppeSendKey);
    // Other attributes encrypted with the secret (User-Password, Tunnel-Password, Ascend's
    // secrets in the RFC space, ...) are decrypted by the library and kept as sent by our
    // codec, whose server never reads them.
    if (info && info->secret && !mppe) {
      comparable = false;
      return;
    }
    // RFC 2548 §2.4.2/§2.4.3: MS-MPPE keys travel in Access-Accept only, salted with the
    // request's authenticator; elsewhere the two codecs pick different authenticators.
    if (mppe && !is_reply(p.code)) {
      comparable = false;
      return;
    }
    if (mppe) {
      auto key = mppe_decrypt(value, portcullis::fuzz::kSecret, request_authenticator);
      if (!key) {
        comparable = false;
        return;
      }
      value = std::move(*key);
    }
    pair.value = std::move(value);
    if (!pair.value.empty()) out.push_back(std::move(pair));  // as for attributes, below
  };
  bool eap_done = false;
  for (const Attribute& a : p.attributes) {
    if (a.type == attr::MessageAuthenticator) continue;
    // The RFC 6929 extended spaces (241-246) are opaque to our codec; the library splits
    // NAS-Filter-Rule (92) into rules at each NUL (RFC 4849 §2), which is the reader's
    // business, and our server reads neither. An empty NAS-Filter-Rule makes the library
    // drop the attribute after it too (regressions/radius_differential/
    // empty-nas-filter-rule-swallows-next), so this comes before the empty-value case.
    if (a.type >= 241 || a.type == 92) return std::nullopt;
    // An attribute with no value (Length 2; RFC 2865 §5 gives every type at least one
    // octet) is dropped by the library for some types and kept for others; our parser keeps
    // it for the readers to refuse. Not compared on either side.
    if (a.value.empty()) continue;
    // The library joins consecutive PKM-SS-Cert, PKM-CA-Cert (RFC 5904) and
    // EAPoL-Announcement (RFC 7268) attributes ("concat" in its dictionary), as RFC 3579
    // §3.1 joins EAP-Message; only EAP-Message is joined by our codec and read by our server.
    if (a.type == 137 || a.type == 138 || a.type == 180) return std::nullopt;
    if (a.type == attr::EapMessage) {
      if (eap_done) continue;
      const JoinedEap j = join_eap_message(p);
      if (j.status != JoinedEap::Status::Joined) return std::nullopt;
      push(0, attr::EapMessage, j.eap);
      eap_done = true;
      continue;
    }
    if (a.type == attr::VendorSpecific) {
      // Vendors whose FreeRADIUS dictionary declares another sub-attribute layout
      // ("format=" on their VENDOR line: Lucent 2,1, USR 4,0, WiMAX continuation, ...):
      // our codec reads every VSA with the RFC 2865 §5.26 layout, which the server only
      // uses for Microsoft, Cisco and Aruba.
      static constexpr std::uint32_t other_layouts[] = {54, 429, 637, 4846, 5323, 8164, 16445, 24757};
      if (a.value.size() >= 4) {
        const std::uint32_t vendor_id = (std::uint32_t{a.value[0]} << 24) | (std::uint32_t{a.value[1]} << 16) |
                                        (std::uint32_t{a.value[2]} << 8) | a.value[3];
        for (std::uint32_t v : other_layouts) {
          if (vendor_id == v) return std::nullopt;
        }
      }
      const auto subs = decode_vendor_specific(a.value);
      if (!subs) {
        push(0, attr::VendorSpecific, a.value);  // opaque to both: the library keeps it raw
        continue;
      }
      for (const VendorAttribute& s : *subs) push(s.vendor, s.type, s.value);
      continue;
    }
    push(0, a.type, a.value);
  }
  if (!comparable) return std::nullopt;
  return out;
}

std::vector<Pair> comparable_library_pairs(std::vector<Pair> pairs) {
  std::erase_if(pairs, [](const Pair& p) {
    return (p.vendor == 0 && p.type == attr::MessageAuthenticator) || p.value.empty();
  });
  for (Pair& p : pairs) p.name.clear();  // "Attr-26.9.1" vs a dictionary name: not the point
  return pairs;
}

void print(const char* who, const std::vector<Pair>& pairs) {
  std::fprintf(stderr, "%s:\n", who);
  for (const Pair& p : pairs) {
    std::fprintf(stderr, "  %u.%u tag %d len %zu:", p.vendor, p.type, p.tag, p.value.size());
    for (std::uint8_t b : p.value) std::fprintf(stderr, " %02x", b);
    std::fprintf(stderr, "\n");
  }
}

}  // namespace

// libfreeradius-radius 3.2.1 leaks its MD5 contexts in rad_tunnel_pwdecode (MS-MPPE and
// Tunnel-Password decryption) under OpenSSL 3: 72 octets per call, in the oracle, not in
// our code. A suppression cannot name the library (libcrypto has no frame pointers, so the
// fast unwinder never reaches its frame, and the slow one runs this target at 40 inputs/s),
// so leak detection is off here; fuzz_radius_packet checks our codec for leaks.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 20) return 0;
  const ByteView datagram(data, size);
  Authenticator request_authenticator;
  std::memcpy(request_authenticator.data(), portcullis::fuzz::kRequestAuthenticator, 16);
  const bool reply = is_reply(static_cast<Code>(data[0]));
  const oracle::Decoded lib = oracle::decode(datagram, portcullis::fuzz::kSecret, reply ? &request_authenticator : nullptr);
  auto parsed = parse(datagram);
  if (lib.ok && !parsed) {
    std::fprintf(stderr, "we refused (%s) what libfreeradius accepts\n", to_string(parsed.error()));
    __builtin_trap();
  }
  if (!lib.ok || !parsed) return 0;
  auto mine = ours(parsed.value(), request_authenticator);
  if (!mine) return 0;
  for (Pair& p : *mine) p.name.clear();
  const std::vector<Pair> theirs = comparable_library_pairs(lib.pairs);
  if (*mine != theirs) {
    print("ours", *mine);
    print("libfreeradius", theirs);
    __builtin_trap();
  }
  return 0;
}
