// NAS-level drop events under a flood: bounded per minute across every source, every drop
// in some event's count, and no allocation on the drop path of a source already tracked.
// Its own test executable: it replaces the global operator new to count allocations.
#include "radius/drop_events.hpp"
#include "tests/unit/support/recording_sink.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <new>

namespace {
thread_local bool counting = false;
thread_local std::size_t allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace portcullis::radius {
namespace {

using portcullis::testing::RecordingSink;

IpAddress address(std::uint32_t n) {
  return IpAddress::v4({static_cast<std::uint8_t>(10), static_cast<std::uint8_t>(n >> 16),
                        static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
}

std::int64_t total_count(const std::vector<ca::Event>& events) {
  std::int64_t n = 0;
  for (const auto& e : events) n += e.count;
  return n;
}

constexpr const char* kDetail = "datagram from an address that is no NAS client";

TEST(DropEvents, AFloodFromManySpoofedSourcesMakesABoundedNumberOfEvents) {
  RecordingSink sink;
  DropEventLimits limits;
  limits.max_events = 100;
  DropEvents drops(&sink, limits);
  const auto t0 = SteadyClock::now();
  // 50,000 sources, 2 datagrams each, in one minute.
  for (std::uint32_t i = 0; i < 50000; ++i) {
    drops.record(address(i), "", DropReason::unknown_client, kDetail, t0 + std::chrono::microseconds(i));
    drops.record(address(i), "", DropReason::unknown_client, kDetail, t0 + std::chrono::microseconds(i));
  }
  EXPECT_LE(sink.events().size(), 100u);
  drops.sweep(t0 + std::chrono::seconds(61));
  const auto events = sink.take();
  // The budget, plus one "other" per reason.
  EXPECT_LE(events.size(), 100u + 1u);
  EXPECT_EQ(total_count(events), 100000);  // every drop in some count
  const auto other = std::find_if(events.begin(), events.end(), [](const ca::Event& e) { return e.nas_ip == "other"; });
  ASSERT_NE(other, events.end());
  EXPECT_EQ(other->reason, "unknown_client");
  EXPECT_GT(other->count, 99000);
  EXPECT_NE(other->detail.find(kDetail), std::string::npos) << other->detail;
  EXPECT_LE(drops.tracked(), limits.max_sources);
}

TEST(DropEvents, TheBudgetIsRenewedEveryMinute) {
  RecordingSink sink;
  DropEventLimits limits;
  limits.max_events = 10;
  DropEvents drops(&sink, limits);
  const auto t0 = SteadyClock::now();
  for (std::uint32_t i = 0; i < 50; ++i) drops.record(address(i), "", DropReason::malformed, "bad", t0);
  EXPECT_EQ(sink.take().size(), 10u);
  const auto t1 = t0 + std::chrono::seconds(60);
  drops.record(address(1000), "wlc", DropReason::malformed, "bad", t1);
  const auto events = sink.take();
  ASSERT_EQ(events.size(), 2u);  // the last minute's "other", then the new source's first
  EXPECT_EQ(events[0].nas_ip, "other");
  EXPECT_EQ(events[0].count, 40);
  EXPECT_EQ(events[1].nas_ip, "10.0.3.232");
  EXPECT_EQ(events[1].nas, "wlc");
  EXPECT_EQ(events[1].count, 1);
}

TEST(DropEvents, ATrackedSourceIsCountedWithoutAnAllocation) {
  RecordingSink sink;
  DropEvents drops(&sink);
  const auto t0 = SteadyClock::now();
  const IpAddress source = address(7);
  drops.record(source, "wlc", DropReason::bad_message_authenticator, "wrong secret", t0);
  ASSERT_EQ(sink.take().size(), 1u);
  counting = true;
  allocations = 0;
  for (int i = 0; i < 1000; ++i)
    drops.record(source, "wlc", DropReason::bad_message_authenticator, "wrong secret", t0 + std::chrono::milliseconds(i));
  counting = false;
  EXPECT_EQ(allocations, 0u);
  drops.sweep(t0 + std::chrono::seconds(60));
  const auto events = sink.take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].count, 1000);
  EXPECT_EQ(events[0].nas_ip, "10.0.0.7");
  EXPECT_EQ(events[0].reason, "bad_message_authenticator");
}

TEST(DropEvents, NoSinkTracksNothing) {
  DropEvents drops(nullptr);
  drops.record(address(1), "", DropReason::unknown_client, kDetail, SteadyClock::now());
  EXPECT_EQ(drops.tracked(), 0u);
}

}  // namespace
}  // namespace portcullis::radius
