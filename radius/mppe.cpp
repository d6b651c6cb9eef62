#include "radius/mppe.hpp"

#include "radius/attribute_values.hpp"
#include "radius/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace portcullis::radius {
namespace {

constexpr std::size_t kBlock = 16;

// XORs `data` in place with the RFC 2548 §2.4.2 key stream. `encrypting` chooses which
// side supplies c(i-1) for the next block: the output when encrypting, the input when
// decrypting.
void apply_keystream(Bytes& data, std::uint16_t salt, std::string_view secret, const Authenticator& ra,
                     bool encrypting) {
  const std::uint8_t salt_bytes[2] = {static_cast<std::uint8_t>(salt >> 8), static_cast<std::uint8_t>(salt)};
  Digest16 b = md5({as_bytes(secret), ra, salt_bytes});
  Digest16 prev_cipher{};
  for (std::size_t off = 0; off < data.size(); off += kBlock) {
    if (off != 0) b = md5({as_bytes(secret), prev_cipher});
    for (std::size_t i = 0; i < kBlock; ++i) {
      const std::uint8_t in = data[off + i];
      data[off + i] = static_cast<std::uint8_t>(in ^ b[i]);
      prev_cipher[i] = encrypting ? data[off + i] : in;
    }
  }
  OPENSSL_cleanse(b.data(), b.size());
}

std::uint16_t salt_of(ByteView value) {
  return static_cast<std::uint16_t>((std::uint16_t{value[0]} << 8) | value[1]);
}

}  // namespace

Bytes mppe_encrypt(ByteView key, std::uint16_t salt, std::string_view secret,
                   const Authenticator& request_authenticator) {
  if ((salt & 0x8000) == 0) throw std::invalid_argument("MPPE: salt must have its top bit set (RFC 2548 §2.4.2)");
  if (key.size() > kMaxMppeKeyLength) throw std::invalid_argument("MPPE: key too long for one attribute");
  Bytes plain;
  const std::size_t padded = (1 + key.size() + kBlock - 1) / kBlock * kBlock;
  plain.reserve(padded);
  plain.push_back(static_cast<std::uint8_t>(key.size()));
  plain.insert(plain.end(), key.begin(), key.end());
  plain.resize(padded, 0);
  apply_keystream(plain, salt, secret, request_authenticator, true);

  Bytes out;
  out.reserve(2 + plain.size());
  out.push_back(static_cast<std::uint8_t>(salt >> 8));
  out.push_back(static_cast<std::uint8_t>(salt));
  out.insert(out.end(), plain.begin(), plain.end());
  return out;
}

std::optional<Bytes> mppe_decrypt(ByteView value, std::string_view secret,
                                  const Authenticator& request_authenticator) {
  if (value.size() < 2 + kBlock || (value.size() - 2) % kBlock != 0) return std::nullopt;
  const std::uint16_t salt = salt_of(value);
  if ((salt & 0x8000) == 0) return std::nullopt;
  Bytes plain(value.begin() + 2, value.end());
  apply_keystream(plain, salt, secret, request_authenticator, false);
  const std::size_t key_len = plain[0];
  std::optional<Bytes> key;
  if (key_len <= plain.size() - 1) key = Bytes(plain.begin() + 1, plain.begin() + 1 + static_cast<std::ptrdiff_t>(key_len));
  OPENSSL_cleanse(plain.data(), plain.size());
  return key;
}

std::vector<std::uint16_t> random_mppe_salts(std::size_t count, const std::vector<std::uint16_t>& taken) {
  // 32768 possible salts; a packet carries a handful, so a few redraws at most.
  if (count + taken.size() > 0x8000) throw std::invalid_argument("MPPE: more salts requested than exist");
  std::vector<std::uint16_t> out;
  out.reserve(count);
  while (out.size() < count) {
    std::uint8_t raw[2];
    if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("OpenSSL: RAND_bytes failed");
    const auto salt = static_cast<std::uint16_t>(0x8000 | (std::uint16_t{raw[0]} << 8) | raw[1]);
    const auto seen = [&](const std::vector<std::uint16_t>& v) { return std::find(v.begin(), v.end(), salt) != v.end(); };
    if (!seen(out) && !seen(taken)) out.push_back(salt);
  }
  return out;
}

void add_mppe_keys(Packet& reply, ByteView recv_key, ByteView send_key, std::string_view secret,
                   const Authenticator& request_authenticator, Profile profile) {
  if (profile == Profile::radius_1_1) {
    // RFC 9765 §5.1.4: encoded as any 'string' attribute, the key itself, in clear inside TLS.
    reply.add_vendor(vendor::Microsoft, ms::MppeRecvKey, recv_key);
    reply.add_vendor(vendor::Microsoft, ms::MppeSendKey, send_key);
    return;
  }
  std::vector<std::uint16_t> taken;
  for (const Attribute& a : reply.attributes) {
    if (a.type != attr::VendorSpecific) continue;
    const auto subs = decode_vendor_specific(a.value);
    if (!subs) continue;
    for (const VendorAttribute& s : *subs)
      if (s.vendor == vendor::Microsoft && (s.type == ms::MppeRecvKey || s.type == ms::MppeSendKey) &&
          s.value.size() >= 2)
        taken.push_back(salt_of(s.value));
  }
  const auto salts = random_mppe_salts(2, taken);
  reply.add_vendor(vendor::Microsoft, ms::MppeRecvKey, mppe_encrypt(recv_key, salts[0], secret, request_authenticator));
  reply.add_vendor(vendor::Microsoft, ms::MppeSendKey, mppe_encrypt(send_key, salts[1], secret, request_authenticator));
}

}  // namespace portcullis::radius
