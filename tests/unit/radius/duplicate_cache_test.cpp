// RFC 5080 §2.2.2 duplicate detection semantics.
#include "radius/duplicate_cache.hpp"

#include <gtest/gtest.h>

namespace portcullis::radius {
namespace {

using namespace std::chrono_literals;
using Status = DuplicateCache::Status;

RequestKey key(std::uint8_t id = 7) {
  RequestKey k;
  k.source = IpAddress::parse("192.0.2.10").value();
  k.source_port = 40000;
  k.identifier = id;
  k.socket = 0;
  k.authenticator.fill(0xAB);
  return k;
}

TEST(DuplicateCache, FreshThenInProgressThenAnsweredThenExpired) {
  DuplicateCache cache(10s);
  const auto t0 = DuplicateCache::Clock::time_point{} + 1000s;
  EXPECT_EQ(cache.begin(key(), t0).status, Status::fresh);
  EXPECT_EQ(cache.begin(key(), t0 + 1s).status, Status::in_progress);
  cache.complete(key(), Bytes{1, 2, 3}, t0 + 1s);
  auto again = cache.begin(key(), t0 + 5s);
  EXPECT_EQ(again.status, Status::answered);
  EXPECT_EQ(again.reply, (Bytes{1, 2, 3}));
  EXPECT_EQ(cache.begin(key(), t0 + 11s).status, Status::fresh);  // lifetime over: processed afresh
}

TEST(DuplicateCache, EveryKeyPartMatters) {
  DuplicateCache cache(10s);
  const auto t0 = DuplicateCache::Clock::time_point{} + 1000s;
  ASSERT_EQ(cache.begin(key(), t0).status, Status::fresh);
  RequestKey other_port = key();
  other_port.source_port = 40001;
  RequestKey other_socket = key();
  other_socket.socket = 1;
  RequestKey other_auth = key();
  other_auth.authenticator[0] = 0;  // same Identifier reused for a new request
  RequestKey other_source = key();
  other_source.source = IpAddress::parse("192.0.2.11").value();
  for (const auto& k : {key(8), other_port, other_socket, other_auth, other_source})
    EXPECT_EQ(cache.begin(k, t0).status, Status::fresh);
  EXPECT_EQ(cache.size(), 6u);
}

TEST(DuplicateCache, ForgetLetsTheRetransmissionThrough) {
  DuplicateCache cache(10s);
  const auto t0 = DuplicateCache::Clock::time_point{} + 1000s;
  ASSERT_EQ(cache.begin(key(), t0).status, Status::fresh);
  cache.forget(key());
  EXPECT_EQ(cache.begin(key(), t0 + 1s).status, Status::fresh);
  cache.complete(key(), Bytes{9}, t0 + 1s);
  EXPECT_EQ(cache.begin(key(), t0 + 2s).status, Status::answered);
}

TEST(DuplicateCache, BoundedOldestFirst) {
  DuplicateCache cache(10s, 100);
  const auto t0 = DuplicateCache::Clock::time_point{} + 1000s;
  for (int i = 0; i < 1000; ++i) {
    RequestKey k = key(static_cast<std::uint8_t>(i));
    k.source_port = static_cast<std::uint16_t>(i);
    ASSERT_EQ(cache.begin(k, t0).status, Status::fresh);
    cache.complete(k, Bytes{1}, t0);
  }
  EXPECT_LE(cache.size(), 100u);
  RequestKey newest = key(static_cast<std::uint8_t>(999));
  newest.source_port = 999;
  EXPECT_EQ(cache.begin(newest, t0).status, Status::answered);
  RequestKey oldest = key(0);
  oldest.source_port = 0;
  EXPECT_EQ(cache.begin(oldest, t0).status, Status::fresh);
}

}  // namespace
}  // namespace portcullis::radius
