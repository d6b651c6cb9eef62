// ConnectionLimiter without sockets: the caps, the release of a slot, and how peers are
// grouped (IPv4 by address, IPv4-mapped IPv6 as IPv4, IPv6 by /64).
#include "app/http/connection_limits.hpp"

#include <gtest/gtest.h>

namespace app = portcullis::app;
using boost::asio::ip::make_address;

namespace {

TEST(ConnectionLimiter, PerAddressCapThenTotalCapAndSlotsAreGivenBack) {
  auto limiter = app::ConnectionLimiter::create(app::ConnectionCaps{3, 2});
  auto a1 = limiter->try_acquire(make_address("192.0.2.1"));
  auto a2 = limiter->try_acquire(make_address("192.0.2.1"));
  ASSERT_TRUE(a1 && a2);
  EXPECT_FALSE(limiter->try_acquire(make_address("192.0.2.1")));
  EXPECT_EQ(limiter->refused_address_cap(), 1u);
  auto b1 = limiter->try_acquire(make_address("192.0.2.2"));
  ASSERT_TRUE(b1);
  EXPECT_FALSE(limiter->try_acquire(make_address("192.0.2.3")));
  EXPECT_EQ(limiter->refused_total_cap(), 1u);
  EXPECT_EQ(limiter->open(), 3u);
  a1.reset();
  EXPECT_EQ(limiter->open(), 2u);
  EXPECT_TRUE(limiter->try_acquire(make_address("192.0.2.1")));  // a1's place, released again at once
  EXPECT_EQ(limiter->open(), 2u);
}

TEST(ConnectionLimiter, Ipv6PeersCountByTheirSlash64AndMappedIpv4AsIpv4) {
  auto limiter = app::ConnectionLimiter::create(app::ConnectionCaps{100, 2});
  auto x = limiter->try_acquire(make_address("2001:db8:1:2::1"));
  auto y = limiter->try_acquire(make_address("2001:db8:1:2:ffff::9"));  // same /64, another address
  ASSERT_TRUE(x && y);
  EXPECT_FALSE(limiter->try_acquire(make_address("2001:db8:1:2:abcd::1")));
  EXPECT_TRUE(limiter->try_acquire(make_address("2001:db8:1:3::1")));  // the next /64

  auto v4 = limiter->try_acquire(make_address("198.51.100.7"));
  auto mapped = limiter->try_acquire(make_address("::ffff:198.51.100.7"));
  ASSERT_TRUE(v4 && mapped);
  EXPECT_FALSE(limiter->try_acquire(make_address("198.51.100.7")));
  EXPECT_EQ(limiter->refused_address_cap(), 2u);
}

}  // namespace
