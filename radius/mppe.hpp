// RFC 2548 §2.4.2/§2.4.3 MS-MPPE-Send-Key / MS-MPPE-Recv-Key salt encryption: the
// keys an EAP-TLS Access-Accept hands to the NAS (docs/architecture.md, "The keys the NAS gets").
#pragma once

#include "radius/packet.hpp"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace portcullis::radius {

// Longest key that fits one vendor attribute: 247 - 2 (salt) = 245 octets of cipher,
// a multiple of 16 => 240, minus the length octet.
inline constexpr std::size_t kMaxMppeKeyLength = 239;

// Salt(2) || C(1) || ... || C(n), where P = len(1) || key || zero pad to a multiple of 16,
// b(1) = MD5(secret || Request-Authenticator || salt), b(i) = MD5(secret || c(i-1)),
// c(i) = p(i) XOR b(i). The salt's most significant bit must be set (RFC 2548 §2.4.2).
// Throws std::invalid_argument for a salt without the top bit or a key that is too long.
Bytes mppe_encrypt(ByteView key, std::uint16_t salt, std::string_view secret,
                   const Authenticator& request_authenticator);

// Inverse of mppe_encrypt; nullopt for a malformed value (short, not a multiple of 16,
// salt top bit clear, or a key length octet that points past the plaintext).
std::optional<Bytes> mppe_decrypt(ByteView value, std::string_view secret,
                                  const Authenticator& request_authenticator);

// `count` random salts from RAND_bytes, each with the top bit set, all distinct from
// each other and from `taken` (RFC 2548: unique per attribute within a packet).
std::vector<std::uint16_t> random_mppe_salts(std::size_t count, const std::vector<std::uint16_t>& taken = {});

// Appends MS-MPPE-Recv-Key (vendor 311, type 17) then MS-MPPE-Send-Key (type 16),
// encrypted for the reply to the request with `request_authenticator`, with salts
// distinct from each other and from any MPPE key attribute already in `reply`.
// Profile::radius_1_1: the keys as they are, no salt, no MD5 (RFC 9765 §5.1.4: TLS hides them).
void add_mppe_keys(Packet& reply, ByteView recv_key, ByteView send_key, std::string_view secret,
                   const Authenticator& request_authenticator, Profile profile = Profile::radius);

}  // namespace portcullis::radius
