// RadSec refusal events: the first of a minute at once with what the certificate said, the
// rest in one counted event, and a bounded number under a storm with every refusal counted.
#include "radius/radsec/refusal_events.hpp"
#include "tests/unit/support/recording_sink.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace portcullis::radius::radsec {
namespace {

using portcullis::testing::RecordingSink;

IpAddress address(std::uint32_t n) {
  return IpAddress::v4({10, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                        static_cast<std::uint8_t>(n)});
}

Refusal revoked(const IpAddress& source) {
  return Refusal{source, "revoked", "TLS: NAS certificate revoked", "wlc-1", "wlc-1", "6AD6", "CN=Issuing", "wlc-1"};
}

std::int64_t total_count(const std::vector<ca::Event>& events) {
  std::int64_t n = 0;
  for (const auto& e : events) n += e.count;
  return n;
}

TEST(RefusalEvents, FirstAtOnceWithTheCertificateThenOneCountedEvent) {
  RecordingSink sink;
  RefusalEvents events(&sink);
  const auto t0 = SteadyClock::now();
  for (int i = 0; i < 5; ++i) events.record(revoked(address(1)), t0 + std::chrono::seconds(i));
  events.record(Refusal{address(1), "handshake_timeout", "no complete TLS handshake within 10 s", {}, {}, {}, {}, {}},
                t0);

  auto now = sink.take();
  ASSERT_EQ(now.size(), 2u);  // one per reason
  const ca::Event& first = now[0];
  EXPECT_TRUE(ca::well_formed(first));
  EXPECT_EQ(first.kind, "radsec");
  EXPECT_EQ(first.outcome, "refused");
  EXPECT_EQ(first.reason, "revoked");
  EXPECT_EQ(first.nas_ip, "10.0.0.1");
  EXPECT_EQ((std::vector<std::string>{first.nas, first.cn, first.serial, first.issuer, first.device}),
            (std::vector<std::string>{"wlc-1", "wlc-1", "6AD6", "CN=Issuing", "wlc-1"}));
  EXPECT_EQ(first.count, 1);
  EXPECT_NE(first.detail.find("NAS certificate revoked"), std::string::npos) << first.detail;
  EXPECT_EQ(now[1].reason, "handshake_timeout");

  events.sweep(t0 + std::chrono::seconds(30));  // the minute is not over
  EXPECT_TRUE(sink.take().empty());
  events.sweep(t0 + std::chrono::seconds(61));
  const auto later = sink.take();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].count, 4);
  EXPECT_EQ(later[0].serial, "6AD6");
  EXPECT_EQ(events.tracked(), 0u);
}

TEST(RefusalEvents, AStormFromManyAddressesIsBoundedAndEveryRefusalCounted) {
  RecordingSink sink;
  RefusalEventLimits limits;
  limits.max_sources = 50;
  limits.max_events = 100;
  RefusalEvents events(&sink, limits);
  const auto t0 = SteadyClock::now();
  for (std::uint32_t i = 0; i < 5000; ++i)
    for (int k = 0; k < 3; ++k) events.record(revoked(address(i)), t0 + std::chrono::milliseconds(i));
  EXPECT_LE(sink.events().size(), 50u);  // at most one at once per tracked address
  EXPECT_LE(events.tracked(), 50u);
  events.sweep(t0 + std::chrono::seconds(120));
  const auto all = sink.take();
  EXPECT_LE(all.size(), 100u + 1u);  // the budget, plus "other" for the one reason
  EXPECT_EQ(total_count(all), 15000);
  EXPECT_TRUE(std::any_of(all.begin(), all.end(), [](const ca::Event& e) { return e.nas_ip == "other"; }));
}

TEST(RefusalEvents, NoSinkNothingTracked) {
  RefusalEvents events(nullptr);
  events.record(revoked(address(1)), SteadyClock::now());
  EXPECT_EQ(events.tracked(), 0u);
}

}  // namespace
}  // namespace portcullis::radius::radsec
