// What a batch of events adds to the overview's counts (ca/ledger/event_counts.hpp).
#include "ca/ledger/event_counts.hpp"

#include <gtest/gtest.h>

namespace portcullis::ca {
namespace {

Event event(UnixTime at, const char* kind, const char* outcome, const char* reason = "", const char* nas = "") {
  Event e;
  e.at = at;
  e.kind = kind;
  e.outcome = outcome;
  e.reason = reason;
  e.nas = nas;
  return e;
}

TEST(CountEvents, MinutesByKindAndOutcomeRejectsByHourReasonAndNas) {
  const EventCounts rows = count_events({
      event(3725, "radius", "reject", "revoked", "wlc-2"),
      event(61, "radius", "accept", "ok", "wlc-1"),
      event(119, "radius", "accept", "ok", "wlc-2"),   // same minute, other NAS: one row
      event(120, "radius", "reject", "revoked", "wlc-1"),
      event(3599, "radius", "reject", "revoked", "wlc-1"),   // another minute, same hour
      event(122, "radius", "abandoned", "timeout", "wlc-1"),   // not in the overview
      event(123, "dynauth", "ack", "", "wlc-1"),
      event(124, "scep", "issued", "ok"),
  });
  ASSERT_EQ(rows.minutes.size(), 5u);
  // Sorted by key: the order every writer locks rows in.
  EXPECT_EQ(rows.minutes[0].minute, 1);
  EXPECT_EQ(rows.minutes[0].outcome, "accept");
  EXPECT_EQ(rows.minutes[0].count, 2);
  EXPECT_EQ(rows.minutes[1].minute, 2);
  EXPECT_EQ(rows.minutes[1].outcome, "reject");
  EXPECT_EQ(rows.minutes[2].kind, "scep");
  EXPECT_EQ(rows.minutes[3].minute, 59);
  EXPECT_EQ(rows.minutes[4].minute, 62);
  ASSERT_EQ(rows.rejects.size(), 2u);
  EXPECT_EQ(rows.rejects[0].hour, 0);
  EXPECT_EQ(rows.rejects[0].nas, "wlc-1");
  EXPECT_EQ(rows.rejects[0].count, 2);
  EXPECT_EQ(rows.rejects[1].hour, 1);
  EXPECT_EQ(rows.rejects[1].nas, "wlc-2");
}

TEST(CountEvents, AnAggregatedEventCountsAsManyAsItStandsFor) {
  Event e = event(60, "radius", "reject", "unknown_client", "");
  e.count = 40;
  const EventCounts rows = count_events({e, e});
  ASSERT_EQ(rows.minutes.size(), 1u);
  EXPECT_EQ(rows.minutes[0].count, 80);
  ASSERT_EQ(rows.rejects.size(), 1u);
  EXPECT_EQ(rows.rejects[0].count, 80);
}

TEST(SummarizeCounts, AddsRowsOfOneKeyAndOrdersMinutes) {
  EventCounts rows;
  rows.minutes = {{3, "radius", "accept", 5}, {1, "radius", "reject", 3}, {3, "radius", "reject", 4},
                  {2, "scep", "issued", 7},   {3, "scep", "issued", 1}};
  rows.rejects = {{0, "expired", "a", 2}, {0, "expired", "b", 1}, {1, "expired", "a", 4}};
  const EventSummary s = summarize_counts(rows);
  ASSERT_EQ(s.radius_per_minute.size(), 2u);
  EXPECT_EQ(s.radius_per_minute[0].minute, 1);
  EXPECT_EQ(s.radius_per_minute[0].rejected, 3);
  EXPECT_EQ(s.radius_per_minute[1].minute, 3);
  EXPECT_EQ(s.radius_per_minute[1].accepted, 5);
  EXPECT_EQ(s.radius_per_minute[1].rejected, 4);
  ASSERT_EQ(s.rejects.size(), 2u);
  EXPECT_EQ(s.rejects[0].nas, "a");
  EXPECT_EQ(s.rejects[0].count, 6);
  ASSERT_EQ(s.scep_outcomes.size(), 1u);
  EXPECT_EQ(s.scep_outcomes[0].second, 8);
}

}  // namespace
}  // namespace portcullis::ca
