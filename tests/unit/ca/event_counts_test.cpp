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

TEST(CountEvents, OneRowPerMinuteKindOutcomeAndForRejectsReasonAndNas) {
  const std::vector<EventCount> rows = count_events({
      event(125, "radius", "reject", "revoked", "wlc-2"),
      event(61, "radius", "accept", "ok", "wlc-1"),
      event(119, "radius", "accept", "ok", "wlc-2"),   // same minute, other NAS: one accept row
      event(120, "radius", "reject", "revoked", "wlc-1"),
      event(121, "radius", "reject", "revoked", "wlc-1"),
      event(122, "radius", "abandoned", "timeout", "wlc-1"),   // not in the overview
      event(123, "dynauth", "ack", "", "wlc-1"),
      event(124, "scep", "issued", "ok"),
  });
  ASSERT_EQ(rows.size(), 4u);
  // Sorted by key: the order every writer locks rows in.
  EXPECT_EQ(rows[0].minute, 1);
  EXPECT_EQ(rows[0].outcome, "accept");
  EXPECT_EQ(rows[0].nas, "");
  EXPECT_EQ(rows[0].reason, "");
  EXPECT_EQ(rows[0].count, 2);
  EXPECT_EQ(rows[1].minute, 2);
  EXPECT_EQ(rows[1].outcome, "reject");
  EXPECT_EQ(rows[1].nas, "wlc-1");
  EXPECT_EQ(rows[1].count, 2);
  EXPECT_EQ(rows[2].nas, "wlc-2");
  EXPECT_EQ(rows[2].count, 1);
  EXPECT_EQ(rows[3].kind, "scep");
  EXPECT_EQ(rows[3].reason, "");
}

TEST(CountEvents, AnAggregatedEventCountsAsManyAsItStandsFor) {
  Event e = event(60, "radius", "reject", "unknown_client", "");
  e.count = 40;
  const std::vector<EventCount> rows = count_events({e, e});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].count, 80);
}

TEST(SummarizeCounts, AddsRowsOfOneKeyAndOrdersMinutes) {
  const EventSummary s = summarize_counts({{3, "radius", "accept", "", "", 5},
                                           {1, "radius", "reject", "expired", "a", 2},
                                           {1, "radius", "reject", "expired", "b", 1},
                                           {3, "radius", "reject", "expired", "a", 4},
                                           {2, "scep", "issued", "", "", 7},
                                           {3, "scep", "issued", "", "", 1}});
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
