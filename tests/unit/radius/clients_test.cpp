// NAS table: address and CIDR entries, IPv4 and IPv6, longest-prefix match.
#include "radius/clients.hpp"

#include <gtest/gtest.h>

namespace portcullis::radius {
namespace {

NasClient nas(const char* name) {
  NasClient c;
  c.name = name;
  c.secret = std::string("secret-of-") + name;
  return c;
}

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

TEST(NasTable, LongestPrefixWinsAcrossFamilies) {
  NasTable t;
  t.add(nas("campus"), "10.0.0.0/8");
  t.add(nas("building"), "10.1.0.0/16");
  t.add(nas("controller"), "10.1.2.3");
  t.add(nas("v6-site"), "2001:db8::/32");
  t.add(nas("v6-host"), "2001:db8::7/128");
  EXPECT_EQ(t.find(ip("10.1.2.3"))->name, "controller");
  EXPECT_EQ(t.find(ip("10.1.2.4"))->name, "building");
  EXPECT_EQ(t.find(ip("10.200.0.1"))->name, "campus");
  EXPECT_EQ(t.find(ip("11.0.0.1")), nullptr);
  EXPECT_EQ(t.find(ip("2001:db8::7"))->name, "v6-host");
  EXPECT_EQ(t.find(ip("2001:db8:1::1"))->name, "v6-site");
  EXPECT_EQ(t.find(ip("2001:db9::1")), nullptr);
  // An IPv4 source seen on a dual-stack socket arrives IPv4-mapped: same answer.
  EXPECT_EQ(t.find(ip("::ffff:10.1.2.3"))->name, "controller");
  EXPECT_EQ(t.find(ip("10.1.2.3"))->address, "10.1.2.3");
}

TEST(NasTable, NonOctetPrefixesAndCatchAll) {
  NasTable t;
  t.add(nas("slash-20"), "192.168.16.0/20");
  EXPECT_NE(t.find(ip("192.168.31.255")), nullptr);
  EXPECT_EQ(t.find(ip("192.168.32.0")), nullptr);
  EXPECT_EQ(t.find(ip("192.168.15.255")), nullptr);
  t.add(nas("any-v4"), "0.0.0.0/0");
  EXPECT_EQ(t.find(ip("192.168.32.0"))->name, "any-v4");
  EXPECT_EQ(t.find(ip("192.168.20.1"))->name, "slash-20");
  EXPECT_EQ(t.find(ip("2001:db8::1")), nullptr);  // /0 of IPv4 is not every IPv6 address
}

TEST(NasTable, RefusesMalformedEntries) {
  NasTable t;
  EXPECT_THROW(t.add(nas("a"), "10.0.0.0/33"), std::invalid_argument);
  EXPECT_THROW(t.add(nas("a"), "2001:db8::/129"), std::invalid_argument);
  EXPECT_THROW(t.add(nas("a"), "10.0.0.1/8"), std::invalid_argument);  // host bits set
  EXPECT_THROW(t.add(nas("a"), "not-an-address"), std::invalid_argument);
  EXPECT_THROW(t.add(nas("a"), "10.0.0.0/"), std::invalid_argument);
  EXPECT_THROW(t.add(nas("a"), "10.0.0.0/8x"), std::invalid_argument);
  NasClient empty = nas("e");
  empty.secret.clear();
  EXPECT_THROW(t.add(empty, "10.0.0.0/8"), std::invalid_argument);
  t.add(nas("first"), "10.0.0.0/8");
  EXPECT_THROW(t.add(nas("second"), "10.0.0.0/8"), std::invalid_argument);
  EXPECT_EQ(t.size(), 1u);
}

TEST(IpPrefix, ParsesBothFamiliesAndRefusesTypos) {
  const IpPrefix loopback = IpPrefix::parse("127.0.0.0/8");
  EXPECT_TRUE(loopback.contains(IpAddress::parse("127.1.2.3").value()));
  EXPECT_TRUE(loopback.contains(IpAddress::parse("::ffff:127.0.0.1").value()));  // IPv4 on an IPv6 socket
  EXPECT_FALSE(loopback.contains(IpAddress::parse("128.0.0.1").value()));
  EXPECT_FALSE(loopback.contains(IpAddress::parse("::1").value()));
  const IpPrefix v6 = IpPrefix::parse("::1");
  EXPECT_TRUE(v6.contains(IpAddress::parse("::1").value()));
  EXPECT_FALSE(v6.contains(IpAddress::parse("::2").value()));
  EXPECT_TRUE(IpPrefix::parse("2001:db8::/32").contains(IpAddress::parse("2001:db8:1::5").value()));
  EXPECT_THROW(IpPrefix::parse("10.0.0.1/8"), std::invalid_argument);
  EXPECT_THROW(IpPrefix::parse("10.0.0.0/33"), std::invalid_argument);
  EXPECT_THROW(IpPrefix::parse("localhost"), std::invalid_argument);
  EXPECT_THROW(IpPrefix::parse("10.0.0.0/"), std::invalid_argument);
}

TEST(IpAddress, TextRoundTrip) {
  EXPECT_EQ(ip("192.0.2.1").to_string(), "192.0.2.1");
  EXPECT_EQ(ip("0.0.0.0").to_string(), "0.0.0.0");
  EXPECT_EQ(ip("255.255.255.255").to_string(), "255.255.255.255");
  EXPECT_EQ(ip("10.200.7.99").to_string(), "10.200.7.99");
  EXPECT_TRUE(ip("192.0.2.1").is_v4());
  EXPECT_EQ(ip("2001:DB8::1").to_string(), "2001:db8::1");
  EXPECT_FALSE(ip("2001:db8::1").is_v4());
  EXPECT_FALSE(IpAddress::parse("1.2.3").has_value());
}

}  // namespace
}  // namespace portcullis::radius
