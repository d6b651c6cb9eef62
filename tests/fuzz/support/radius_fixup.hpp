// Structure-aware help for the RADIUS fuzz targets: after libFuzzer's byte-level mutation,
// make the datagram one a real NAS or server could have sent with the shared secret
// kSecret, so that the fuzzer explores what lies past the integrity checks:
//   - Length (RFC 2865 §3) = the datagram's size, clamped to 20..4096;
//   - a single Message-Authenticator (RFC 3579 §3.2) recomputed: HMAC-MD5 over the packet
//     with the attribute zeroed, the header holding the Request Authenticator (Access-
//     Request, Status-Server), 16 zero octets (Accounting/CoA/Disconnect-Request, RFC 5176
//     §3.5) or, for replies, kRequestAuthenticator;
//   - the hashed authenticators recomputed last: MD5 Request Authenticator of Accounting/
//     CoA/Disconnect-Request (RFC 2866 §3) and Response Authenticator of replies (RFC 2865 §3).
// Written from the RFCs, not with the codec under test, so the two can disagree.
#pragma once

#include "radius/attributes.hpp"
#include "radius/digest.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace portcullis::fuzz {

inline constexpr char kSecret[] = "fuzzing-secret";
inline constexpr std::uint8_t kRequestAuthenticator[16] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                                           0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00};

inline radius::ByteView secret_bytes() { return radius::as_bytes(kSecret); }

// Offsets of the Message-Authenticator attributes, or false when the attribute walk
// runs off the end (then the packet stays as mutated: the parser must refuse it).
inline bool message_authenticators(const std::uint8_t* p, std::size_t len, std::vector<std::size_t>& out) {
  std::size_t at = 20;
  while (at < len) {
    if (len - at < 2 || p[at + 1] < 2 || p[at + 1] > len - at) return false;
    if (p[at] == radius::attr::MessageAuthenticator && p[at + 1] == 18) out.push_back(at);
    at += p[at + 1];
  }
  return true;
}

// Rewrites `data[0..size)` in place; returns the packet's length (<= size).
inline std::size_t fix_up_radius(std::uint8_t* data, std::size_t size) {
  using radius::Code;
  if (size < 20) return size;
  const std::size_t len = size > 4096 ? 4096 : size;
  data[2] = static_cast<std::uint8_t>(len >> 8);
  data[3] = static_cast<std::uint8_t>(len & 0xff);
  const auto code = static_cast<Code>(data[0]);
  const bool reply = radius::is_reply(code);
  const bool hashed_request = radius::has_hashed_request_authenticator(code);

  std::vector<std::size_t> mas;
  if (message_authenticators(data, len, mas) && mas.size() == 1) {
    std::uint8_t header_auth[16];
    if (reply) {
      std::memcpy(header_auth, kRequestAuthenticator, 16);
    } else if (hashed_request) {
      std::memset(header_auth, 0, 16);
    } else {
      std::memcpy(header_auth, data + 4, 16);
    }
    std::memset(data + mas[0] + 2, 0, 16);
    const radius::Digest16 mac = radius::hmac_md5(
        secret_bytes(), {radius::ByteView(data, 4), radius::ByteView(header_auth, 16), radius::ByteView(data + 20, len - 20)});
    std::memcpy(data + mas[0] + 2, mac.data(), 16);
  }
  if (reply || hashed_request) {
    std::uint8_t zero[16] = {};
    const radius::Digest16 auth =
        radius::md5({radius::ByteView(data, 4), radius::ByteView(reply ? kRequestAuthenticator : zero, 16),
                     radius::ByteView(data + 20, len - 20), secret_bytes()});
    std::memcpy(data + 4, auth.data(), 16);
  }
  return len;
}

}  // namespace portcullis::fuzz

// Declared by libFuzzer.
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

// One definition per target that includes this with PORTCULLIS_RADIUS_MUTATOR defined.
#ifdef PORTCULLIS_RADIUS_MUTATOR
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int /*seed*/) {
  const size_t n = LLVMFuzzerMutate(data, size, max_size);
  // Keep the octets past Length too: they are part of the datagram the parser sees.
  portcullis::fuzz::fix_up_radius(data, n);
  return n;
}
#endif
