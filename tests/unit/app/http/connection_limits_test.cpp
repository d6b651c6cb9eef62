// ConnectionLimiter without sockets: the caps, the release of a slot, how peers are
// grouped (IPv4 by address, IPv4-mapped IPv6 as IPv4, IPv6 by /64), and which waiting
// connection a full listener gives up for a less busy address.
#include "app/http/connection_limits.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// A slot whose reclaim records its name (the server would post the close instead).
std::unique_ptr<app::ConnectionLimiter::Slot> slot(app::ConnectionLimiter& limiter, const char* address,
                                                   std::string name, std::vector<std::string>& closed) {
  auto s = limiter.try_acquire(make_address(address));
  if (s) s->on_reclaim([&closed, name] { closed.push_back(name); });
  return s;
}

// Four addresses filling the listener with slow connections: a fifth address holding
// nothing gets the busiest address's longest-waiting connection, not a refusal.
TEST(ConnectionLimiter, AFullListenerGivesTheBusiestAddresssOldestWaitingPlaceToANewcomer) {
  auto limiter = app::ConnectionLimiter::create(app::ConnectionCaps{5, 3});
  std::vector<std::string> closed;
  auto a1 = slot(*limiter, "192.0.2.1", "a1", closed);
  auto b1 = slot(*limiter, "192.0.2.2", "b1", closed);
  auto a2 = slot(*limiter, "192.0.2.1", "a2", closed);
  auto a3 = slot(*limiter, "192.0.2.1", "a3", closed);
  auto b2 = slot(*limiter, "192.0.2.2", "b2", closed);
  ASSERT_TRUE(a1 && b1 && a2 && a3 && b2);
  a1->busy();  // its request is being handled: never closed for room

  auto legit = slot(*limiter, "192.0.2.9", "legit", closed);
  ASSERT_TRUE(legit);
  EXPECT_EQ(closed, std::vector<std::string>{"a2"});
  EXPECT_EQ(limiter->reclaimed(), 1u);
  EXPECT_EQ(limiter->refused_total_cap(), 0u);

  // a2's close is under way: the next newcomer takes a3 (a still holds 3 until a2 goes).
  auto second = slot(*limiter, "192.0.2.10", "second", closed);
  ASSERT_TRUE(second);
  EXPECT_EQ(closed, (std::vector<std::string>{"a2", "a3"}));
  a2.reset();
  a3.reset();
  EXPECT_EQ(limiter->open(), 5u);
}

// A swap happens only when the victim's address holds at least two more than the
// newcomer's (after it, the newcomer's address still holds no more). The busiest address
// cannot push out its own connections, and busy connections are never taken.
TEST(ConnectionLimiter, NoPlaceIsTakenFromAnAddressThatIsNotBusierThanTheNewcomers) {
  auto limiter = app::ConnectionLimiter::create(app::ConnectionCaps{4, 4});
  std::vector<std::string> closed;
  auto a1 = slot(*limiter, "192.0.2.1", "a1", closed);
  auto a2 = slot(*limiter, "192.0.2.1", "a2", closed);
  auto a3 = slot(*limiter, "192.0.2.1", "a3", closed);
  auto b1 = slot(*limiter, "192.0.2.2", "b1", closed);
  ASSERT_TRUE(a1 && a2 && a3 && b1);
  EXPECT_FALSE(slot(*limiter, "192.0.2.1", "a4", closed));
  EXPECT_TRUE(closed.empty());
  auto b2 = slot(*limiter, "192.0.2.2", "b2", closed);  // b holds 1, a 3: a gives one up
  ASSERT_TRUE(b2);
  EXPECT_EQ(closed, std::vector<std::string>{"a1"});
  a1.reset();  // now a 2, b 2: nobody is two ahead of b
  EXPECT_FALSE(slot(*limiter, "192.0.2.2", "b3", closed));
  EXPECT_EQ(limiter->refused_total_cap(), 2u);

  a2->busy();
  a3->busy();
  b1->busy();
  b2->busy();  // every request is being handled
  EXPECT_FALSE(slot(*limiter, "192.0.2.3", "c1", closed));
  EXPECT_EQ(closed, std::vector<std::string>{"a1"});
}

// The close found the connection's request already there: it stays and counts again.
TEST(ConnectionLimiter, ADeclinedReclaimCountsThePlaceAgain) {
  auto limiter = app::ConnectionLimiter::create(app::ConnectionCaps{3, 3});
  std::vector<std::string> closed;
  auto a1 = slot(*limiter, "192.0.2.1", "a1", closed);
  auto a2 = slot(*limiter, "192.0.2.1", "a2", closed);
  auto a3 = slot(*limiter, "192.0.2.1", "a3", closed);
  auto c1 = slot(*limiter, "192.0.2.3", "c1", closed);
  ASSERT_TRUE(c1);
  ASSERT_EQ(closed, std::vector<std::string>{"a1"});
  a1->busy();
  a1->reclaim_declined();
  EXPECT_EQ(limiter->open(), 4u);
  auto d1 = slot(*limiter, "192.0.2.4", "d1", closed);  // a2 goes next
  ASSERT_TRUE(d1);
  EXPECT_EQ(closed, (std::vector<std::string>{"a1", "a2"}));
}

// The close may end the victim's connection at once, giving its place back through the
// limiter while the newcomer is being admitted: the limiter must not hold its lock then.
TEST(ConnectionLimiter, AReclaimThatEndsTheConnectionAtOnceGivesItsPlaceBack) {
  auto limiter = app::ConnectionLimiter::create(app::ConnectionCaps{2, 2});
  auto a1 = limiter->try_acquire(make_address("192.0.2.1"));
  auto a2 = limiter->try_acquire(make_address("192.0.2.1"));
  ASSERT_TRUE(a1 && a2);
  a1->on_reclaim([&a1] { a1.reset(); });  // the connection's last reference goes with it
  auto b1 = limiter->try_acquire(make_address("192.0.2.2"));
  ASSERT_TRUE(b1);
  EXPECT_FALSE(a1);
  EXPECT_EQ(limiter->open(), 2u);
  EXPECT_EQ(limiter->reclaimed(), 1u);
}

}  // namespace
