// The event queue: batches in one transaction, drops and counts when full, never waits
// for the store, writes what is left at destruction, applies the retention.
#include "ca/ledger/event_writer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>

namespace portcullis::ca {
namespace {

using namespace std::chrono_literals;

// A store that records its calls; `hold` makes append_events wait until released.
class FakeStore : public EventStore {
 public:
  void append_events(const std::vector<Event>& events) override {
    std::unique_lock lock(mutex_);
    ++appends_in_progress;
    entered.notify_all();
    released.wait(lock, [&] { return !hold; });
    --appends_in_progress;
    if (fail) throw std::runtime_error("disk full");
    batches.push_back(events);
  }
  std::vector<Event> events(const EventFilter&) override { return {}; }
  EventSummary summarize_events(UnixTime) override { return {}; }
  std::size_t prune_events(UnixTime older_than, std::size_t max_rows) override {
    std::lock_guard lock(mutex_);
    prunes.emplace_back(older_than, max_rows);
    return 7;
  }
  void release() {
    std::lock_guard lock(mutex_);
    hold = false;
    released.notify_all();
  }
  void wait_entered() {
    std::unique_lock lock(mutex_);
    entered.wait(lock, [&] { return appends_in_progress > 0; });
  }

  std::mutex mutex_;
  std::condition_variable entered, released;
  int appends_in_progress = 0;
  bool hold = false;
  bool fail = false;
  std::vector<std::vector<Event>> batches;
  std::vector<std::pair<UnixTime, std::size_t>> prunes;
};

Event event(std::string reason, UnixTime at = 0) {
  Event e;
  e.at = at;
  e.kind = event_kind::kRadius;
  e.outcome = "reject";
  e.reason = std::move(reason);
  return e;
}

EventWriterSettings manual(std::size_t capacity = 100) {
  EventWriterSettings s;
  s.capacity = capacity;
  s.background = false;
  s.clock = [] { return UnixTime{5000000}; };
  return s;
}

TEST(EventWriter, WritesWhatIsQueuedInOneBatchAndStampsTheTime) {
  FakeStore store;
  EventWriter writer(store, manual());
  writer.emit(event("a"));
  writer.emit(event("b", 42));
  EXPECT_TRUE(store.batches.empty());  // nothing before flush: off the caller's path
  writer.flush();
  ASSERT_EQ(store.batches.size(), 1u);
  ASSERT_EQ(store.batches[0].size(), 2u);
  EXPECT_EQ(store.batches[0][0].at, 5000000);
  EXPECT_EQ(store.batches[0][1].at, 42);
  EXPECT_EQ(writer.counters().written, 2u);
  EXPECT_EQ(writer.counters().batches, 1u);
  writer.flush();  // nothing queued: no empty transaction
  EXPECT_EQ(store.batches.size(), 1u);
}

// Peer-chosen text (User-Name, certificate names) is cut to kEventTextMax bytes, never in
// the middle of a UTF-8 character.
TEST(EventWriter, CutsLongTextOnACharacterBoundary) {
  FakeStore store;
  EventWriter writer(store, manual());
  Event e = event("ok");
  e.user_name = std::string(kEventTextMax - 1, 'a') + "\xC3\xA9" + std::string(10000, 'b');  // é across the cut
  e.detail = std::string(100000, 'd');
  e.issuer = "CN=" + std::string(300, 'x');
  e.ssid = "corp";
  writer.emit(e);
  writer.flush();
  ASSERT_EQ(store.batches.size(), 1u);
  const Event& got = store.batches[0][0];
  EXPECT_EQ(got.user_name, std::string(kEventTextMax - 1, 'a'));  // the é left out whole
  EXPECT_EQ(got.detail.size(), kEventTextMax);
  EXPECT_EQ(got.issuer.size(), kEventTextMax);
  EXPECT_EQ(got.ssid, "corp");
  EXPECT_EQ(utf8_prefix("\xE2\x82\xAC\xE2\x82\xAC", 4), "\xE2\x82\xAC");  // € is 3 bytes
}

// An event of no known kind (an emitter's bug) is dropped and counted on its own: it must
// not make the store refuse the batch the others share.
TEST(EventWriter, AMalformedEventIsDroppedAloneAndCounted) {
  FakeStore store;
  EventWriter writer(store, manual());
  Event bogus = event("x");
  bogus.kind = "bogus";
  Event no_outcome = event("y");
  no_outcome.outcome.clear();
  writer.emit(event("a"));
  writer.emit(bogus);
  writer.emit(no_outcome);
  writer.emit(event("b"));
  EXPECT_EQ(writer.counters().dropped, 2u);
  EXPECT_EQ(writer.counters().emitted, 2u);
  writer.flush();
  ASSERT_EQ(store.batches.size(), 1u);
  ASSERT_EQ(store.batches[0].size(), 2u);
  EXPECT_EQ(store.batches[0][0].reason, "a");
  EXPECT_EQ(store.batches[0][1].reason, "b");
}

TEST(EventWriter, DropsAndCountsWhenFull) {
  FakeStore store;
  EventWriter writer(store, manual(3));
  for (int i = 0; i < 5; ++i) writer.emit(event(std::to_string(i)));
  EXPECT_EQ(writer.queued(), 3u);
  EXPECT_EQ(writer.counters().emitted, 3u);
  EXPECT_EQ(writer.counters().dropped, 2u);
  writer.flush();
  ASSERT_EQ(store.batches.size(), 1u);
  EXPECT_EQ(store.batches[0].back().reason, "2");  // the first three kept, the later ones dropped
  writer.emit(event("room again"));
  EXPECT_EQ(writer.queued(), 1u);
}

TEST(EventWriter, EmitNeverWaitsForAStoreThatIsWriting) {
  FakeStore store;
  store.hold = true;
  EventWriterSettings s;
  s.capacity = 10;
  s.batch = 1;
  s.flush_interval = 10ms;
  EventWriter writer(store, s);
  writer.emit(event("first"));
  store.wait_entered();  // the writer thread is inside append_events, stuck
  // Emitting, even past capacity, returns while the store is still stuck.
  auto done = std::async(std::launch::async, [&] {
    for (int i = 0; i < 50; ++i) writer.emit(event("more"));
  });
  EXPECT_EQ(done.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(writer.counters().dropped, 40u);
  store.release();
}

TEST(EventWriter, AFailedWriteIsCountedAndTheWriterGoesOn) {
  FakeStore store;
  store.fail = true;
  EventWriter writer(store, manual());
  writer.emit(event("lost"));
  writer.flush();
  EXPECT_EQ(writer.counters().dropped, 1u);
  EXPECT_EQ(writer.counters().store_errors, 1u);
  store.fail = false;
  writer.emit(event("kept"));
  writer.flush();
  ASSERT_EQ(store.batches.size(), 1u);
  EXPECT_EQ(store.batches[0][0].reason, "kept");
}

TEST(EventWriter, BackgroundThreadWritesWithoutFlushAndDestructorWritesTheRest) {
  FakeStore store;
  {
    EventWriterSettings s;
    s.flush_interval = 20ms;
    EventWriter writer(store, s);
    writer.emit(event("soon"));
    for (int i = 0; i < 200 && writer.counters().written == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(writer.counters().written, 1u);
  }
  {
    EventWriterSettings s;
    s.flush_interval = std::chrono::hours(1);
    s.prune_interval = std::chrono::hours(1);
    EventWriter writer(store, s);
    writer.emit(event("at exit"));
  }
  EXPECT_EQ(store.batches.back().back().reason, "at exit");
}

TEST(EventWriter, PrunesWithTheConfiguredRetention) {
  FakeStore store;
  EventWriterSettings s = manual();
  s.keep_days = 2;
  s.max_rows = 1234;
  EventWriter writer(store, s);
  writer.prune();
  ASSERT_EQ(store.prunes.size(), 1u);
  EXPECT_EQ(store.prunes[0].first, 5000000 - 2 * 86400);
  EXPECT_EQ(store.prunes[0].second, 1234u);
  EXPECT_EQ(writer.counters().pruned, 7u);
}

}  // namespace
}  // namespace portcullis::ca
