// The key a peer is counted and rate-limited under, shared by every per-source limit (SCEP
// refusal rows and log lines, HTTP connections per address), so they all group alike.
#pragma once

#include <string>
#include <string_view>

namespace portcullis::ca {

// An IPv4 address as is ("192.0.2.1"); an IPv4-mapped IPv6 address as its IPv4 address
// (a dual-stack socket's IPv4 peer); any other IPv6 address as its /64
// ("2001:db8:1:2::/64", zone index dropped): RFC 4291 §2.5.4 makes a /64 one link, and a
// host on it may take any of its addresses (RFC 6177 §3: the smallest prefix a site gets).
// "unknown" when empty; anything unparsable as given.
std::string peer_source_key(std::string_view address);

}  // namespace portcullis::ca
