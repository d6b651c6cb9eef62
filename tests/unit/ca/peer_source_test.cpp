// One key per source for every per-source limit: IPv4 as is, IPv4-mapped as IPv4, IPv6 /64.
#include "ca/peer_source.hpp"

#include <gtest/gtest.h>

namespace portcullis::ca {
namespace {

TEST(PeerSourceKey, Ipv4AsIsIpv6ByItsSlash64) {
  EXPECT_EQ(peer_source_key("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(peer_source_key("2001:db8:1:2:aaaa::2"), "2001:db8:1:2::/64");
  EXPECT_EQ(peer_source_key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
  EXPECT_EQ(peer_source_key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
  EXPECT_EQ(peer_source_key("fe80::1%eth0"), "fe80::/64");
  EXPECT_EQ(peer_source_key("::1"), "::/64");
}

// A dual-stack socket's IPv4 peers: each its own source, not all of them one "::/64".
TEST(PeerSourceKey, MappedIpv4IsItsIpv4Address) {
  EXPECT_EQ(peer_source_key("::ffff:10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(peer_source_key("::ffff:10.0.0.2"), "10.0.0.2");
}

TEST(PeerSourceKey, EmptyIsUnknownAndGarbageAsGiven) {
  EXPECT_EQ(peer_source_key(""), "unknown");
  EXPECT_EQ(peer_source_key("not-an-address"), "not-an-address");
  EXPECT_EQ(peer_source_key("192.0.2.1:443"), "192.0.2.1:443");
}

}  // namespace
}  // namespace portcullis::ca
