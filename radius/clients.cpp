#include "radius/clients.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace portcullis::radius {
namespace {

constexpr std::array<std::uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool prefix_matches(const IpAddress& a, const IpAddress& prefix, unsigned bits) {
  const unsigned whole = bits / 8;
  if (!std::equal(a.bytes.begin(), a.bytes.begin() + whole, prefix.bytes.begin())) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (a.bytes[whole] & mask) == (prefix.bytes[whole] & mask);
}

}  // namespace

IpAddress IpAddress::v4(const std::array<std::uint8_t, 4>& a) {
  IpAddress out;
  std::copy(kMappedPrefix.begin(), kMappedPrefix.end(), out.bytes.begin());
  std::copy(a.begin(), a.end(), out.bytes.begin() + 12);
  return out;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& a) {
  IpAddress out;
  out.bytes = a;
  return out;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  const std::string s(text);
  std::array<std::uint8_t, 4> v4addr{};
  if (::inet_pton(AF_INET, s.c_str(), v4addr.data()) == 1) return v4(v4addr);
  std::array<std::uint8_t, 16> v6addr{};
  if (::inet_pton(AF_INET6, s.c_str(), v6addr.data()) == 1) return v6(v6addr);
  return std::nullopt;
}

bool IpAddress::is_v4() const { return std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), bytes.begin()); }

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    // inet_ntop formats IPv4 through sprintf, at about ten times the cost; this is on the
    // path of every decision event and NAS drop.
    char* p = buf;
    for (std::size_t i = 12; i < 16; ++i) {
      if (i > 12) *p++ = '.';
      p = std::to_chars(p, buf + sizeof buf, bytes[i]).ptr;
    }
    return std::string(buf, p);
  }
  ::inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

IpPrefix IpPrefix::parse(std::string_view cidr) {
  const auto slash = cidr.find('/');
  const auto address = IpAddress::parse(cidr.substr(0, slash));
  if (!address) throw std::invalid_argument("not an IP address or CIDR: " + std::string(cidr));
  const unsigned family_bits = address->is_v4() ? 32 : 128;
  unsigned len = family_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = cidr.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || len > family_bits)
      throw std::invalid_argument("bad prefix length in " + std::string(cidr));
  }
  const unsigned bits = len + (128 - family_bits);  // IPv4 prefixes sit behind the 96-bit mapped prefix
  // A host part set beyond the prefix is almost always a typo (10.0.0.1/8 meant 10.0.0.0/8
  // or 10.0.0.1/32); refuse rather than guess.
  IpAddress masked{};
  for (unsigned i = 0; i < 128; ++i)
    if (i < bits && (address->bytes[i / 8] & (0x80 >> (i % 8)))) masked.bytes[i / 8] |= static_cast<std::uint8_t>(0x80 >> (i % 8));
  if (masked != *address) throw std::invalid_argument("host bits set beyond the prefix in " + std::string(cidr));
  return IpPrefix{masked, bits};
}

bool IpPrefix::contains(const IpAddress& address) const { return prefix_matches(address, prefix, bits); }

void NasTable::add(NasClient client, std::string_view cidr) {
  IpPrefix parsed;
  try {
    parsed = IpPrefix::parse(cidr);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("NAS '" + client.name + "': " + e.what());
  }
  if (client.secret.empty()) throw std::invalid_argument("NAS '" + client.name + "': empty shared secret");
  const IpAddress& masked = parsed.prefix;
  const unsigned bits = parsed.bits;
  for (const auto& e : entries_)
    if (e.bits == bits && e.prefix == masked)
      throw std::invalid_argument("NAS '" + client.name + "': prefix " + std::string(cidr) + " already belongs to '" +
                                  e.client.name + "'");
  client.address = std::string(cidr);
  Entry entry{masked, bits, std::move(client)};
  const auto pos = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.bits < bits; });
  entries_.insert(pos, std::move(entry));
}

const NasClient* NasTable::find(const IpAddress& source) const {
  for (const auto& e : entries_)
    if (prefix_matches(source, e.prefix, e.bits)) return &e.client;
  return nullptr;
}

}  // namespace portcullis::radius
