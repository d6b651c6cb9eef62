// The queue between event emitters and the EventStore: emit() appends to a bounded
// in-memory queue and returns; one writer thread stores what is queued in one transaction
// every `flush_interval` or as soon as `batch` events wait, and prunes by age and count
// every `prune_interval`. A full queue drops the event and counts it (never blocks: the
// caller is a RADIUS io thread or a SCEP handler, and the store syncs to disk).
//
// Unlike radius::LedgerWriter (one job, one transaction, each in order) events are plain
// rows that share a transaction; unlike scep::RefusalAudit they are not audit rows and
// not rate-limited per source (emitters aggregate what a flood could multiply).
#pragma once

#include "ca/event.hpp"
#include "ca/ledger/events.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace portcullis::ca {

struct EventWriterSettings {
  std::size_t capacity = 20000;                     // queued events; beyond: dropped, counted
  std::size_t batch = 500;                          // queued events that trigger a write at once
  // A transaction costs about as much as 2-3 rows (its WAL commit): at a few
  // conversations a second each would pay for one of its own at a shorter interval.
  std::chrono::milliseconds flush_interval{1000};
  std::chrono::seconds prune_interval{60};
  std::int64_t keep_days = 30;                      // events older than this are deleted
  std::size_t max_rows = 5000000;                   // and the oldest beyond this many
  bool background = true;                           // false: nothing runs until flush()/prune() (tests)
  std::function<UnixTime()> clock;                  // wall clock; empty = system clock
};

struct EventWriterCounters {
  std::uint64_t emitted = 0;   // accepted into the queue
  std::uint64_t dropped = 0;   // refused (queue full, or not well_formed) or lost (the store failed)
  std::uint64_t written = 0;   // committed
  std::uint64_t batches = 0;   // transactions
  std::uint64_t pruned = 0;    // deleted by retention
  std::uint64_t store_errors = 0;  // failed writes and prunes (the service logs these counters)
};

class EventWriter final : public EventSink {
 public:
  // `store` must outlive the writer.
  EventWriter(EventStore& store, EventWriterSettings settings);
  ~EventWriter() override;  // stops the thread, then writes what is queued
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // Stamps `at` when it is 0 and cuts its text fields to kEventTextMax (bound_text). An
  // event that is not well_formed (a bug of its emitter) is dropped and counted, so that it
  // cannot make the store refuse the whole batch it would share. Takes only the queue's
  // lock, which no store call holds.
  void emit(Event event) noexcept override;
  // Writes what is queued now, in one transaction (tests, admin reads). Never throws.
  void flush() noexcept;
  // Applies the retention now. Never throws.
  void prune() noexcept;

  EventWriterCounters counters() const;
  std::size_t queued() const;

 private:
  UnixTime now() const;
  void run(std::stop_token stop);

  EventStore& store_;
  const EventWriterSettings settings_;
  mutable std::mutex mutex_;             // queue_ and counters_
  std::condition_variable_any wake_;
  std::vector<Event> queue_;
  EventWriterCounters counters_;
  std::mutex write_mutex_;               // one store call at a time, in queue order
  std::vector<Event> spare_;             // guarded by write_mutex_: the last batch's storage, for the next queue
  std::jthread thread_;                  // last: started once everything above exists
};

}  // namespace portcullis::ca
