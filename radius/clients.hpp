// The NAS table (RFC 2865 §3: a RADIUS server answers only clients it shares a secret
// with). Entries are addresses or CIDR prefixes, IPv4 and IPv6; the most specific prefix
// wins, so a /32 for one controller can carry another secret than its /24.
#pragma once

#include "radius/nas_activity.hpp"
#include "radius/packet.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::radius {

// An IPv4 or IPv6 address in one shape: IPv4 is held as the IPv4-mapped IPv6 address
// (RFC 4291 §2.5.5.2), so one prefix match serves both families.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};
  auto operator<=>(const IpAddress&) const = default;

  static IpAddress v4(const std::array<std::uint8_t, 4>& a);
  static IpAddress v6(const std::array<std::uint8_t, 16>& a);
  static std::optional<IpAddress> parse(std::string_view text);  // "192.0.2.1", "2001:db8::1"
  bool is_v4() const;
  std::string to_string() const;  // dotted quad for IPv4, RFC 5952 for IPv6
};

// An address or CIDR prefix, IPv4 or IPv6, in the 128-bit space of IpAddress.
struct IpPrefix {
  IpAddress prefix;
  unsigned bits = 0;
  // "192.0.2.0/24", "2001:db8::/32", or one address. Throws std::invalid_argument for a
  // malformed one or a host part set beyond the prefix (10.0.0.1/8: almost always a typo).
  static IpPrefix parse(std::string_view cidr);
  bool contains(const IpAddress& address) const;
};

struct NasClient {
  std::string name;
  std::string address;  // as configured, for logs
  std::string secret;
  bool require_message_authenticator = true;  // BlastRADIUS, CVE-2024-3596
  std::uint16_t coa_port = 3799;              // RFC 5176 §3
  std::vector<std::string> groups;            // NAS groups for policy rules (nas_group = [...])
  // Message-Authenticator in Accounting-Responses (see ReplyMac::zero_authenticator). Off
  // for RadSec: TLS protects the reply (RFC 6614 §2.3), and radsecproxy checks it over the
  // Request Authenticator where FreeRADIUS checks it over zeros, so no one value passes both.
  bool sign_accounting_responses = true;
  // Its counters and last request (`nas list`); null: not counted.
  std::shared_ptr<NasActivity> activity;
  // How this NAS's packets are framed and protected: RADIUS/1.1 on a RadSec connection that
  // negotiated ALPN "radius/1.1" (RFC 9765), set on the connection's own copy of the entry.
  Profile profile = Profile::radius;
};

class NasTable {
 public:
  // `cidr` is an address or address/prefix-length. Throws std::invalid_argument for a
  // malformed one, a host part set beyond the prefix, an empty secret, or a prefix that is
  // already in the table.
  void add(NasClient client, std::string_view cidr);

  // Longest-prefix match; null for an unknown source (the caller drops and counts it).
  const NasClient* find(const IpAddress& source) const;

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    IpAddress prefix;
    unsigned bits = 0;  // in the 128-bit space
    NasClient client;
  };
  std::vector<Entry> entries_;  // sorted by `bits`, longest first
};

}  // namespace portcullis::radius
