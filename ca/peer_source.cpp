// Per-source keys of peer addresses (peer_source.hpp).
#include "ca/peer_source.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace portcullis::ca {
namespace {

std::string ntop(int family, const void* bytes, std::string_view fallback) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (inet_ntop(family, bytes, text.data(), text.size()) == nullptr) return std::string(fallback);
  return text.data();
}

}  // namespace

std::string peer_source_key(std::string_view address) {
  if (address.empty()) return "unknown";
  const std::string plain(address.substr(0, address.find('%')));   // no zone index
  std::array<unsigned char, 16> bytes{};
  if (inet_pton(AF_INET, plain.c_str(), bytes.data()) == 1) return ntop(AF_INET, bytes.data(), address);
  if (inet_pton(AF_INET6, plain.c_str(), bytes.data()) != 1) return std::string(address);
  // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is the IPv4 peer a.b.c.d.
  constexpr std::array<unsigned char, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::equal(kMapped.begin(), kMapped.end(), bytes.begin())) return ntop(AF_INET, bytes.data() + 12, address);
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return ntop(AF_INET6, bytes.data(), address) + "/64";
}

}  // namespace portcullis::ca
