// The RADIUS server's ledger writes (accounting rows, closed sessions, pruning, audit rows
// of rejects, Disconnect/CoA outcomes), run by one thread of their own so that no io
// thread ever waits for a disk sync or for the ledger's lock, which the SQLite group
// commit holds through its fsync (ca/ledger/sqlite_group_commit.hpp).
//
// The queue is bounded: when it is full, submit() refuses at once (counted in
// `ledger_queue_full`, logged at most once a second) instead of blocking. A refused
// accounting record is not answered (RFC 2866 §2), so the NAS retransmits it; other
// rows are lost, which the counter and the log line show. Jobs run in submission order,
// so a session's Start is written before its Stop.
//
// A write refused for want of space (ca::LedgerFull) or because the database cannot be
// reached (ca::LedgerUnavailable) marks the ledger full until a write succeeds; meanwhile
// accounting is still queued, each record a probe, but not answered (RFC 2866 §2), so the
// NAS retransmits it until the ledger can store it again.
#pragma once

#include "ca/ledger/ledger.hpp"
#include "radius/counters.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace portcullis::radius {

class LedgerWriter {
 public:
  using Job = std::function<void(ca::Ledger&)>;

  // `ledger` and `counters` must outlive the writer.
  LedgerWriter(ca::Ledger& ledger, Counters& counters, std::size_t capacity = 10000);
  // Runs what is queued, then stops the thread.
  ~LedgerWriter();
  LedgerWriter(const LedgerWriter&) = delete;
  LedgerWriter& operator=(const LedgerWriter&) = delete;

  // Queues `job`; `what` names it in log lines. False when the queue is full. Never waits
  // for the disk: it takes only the queue's own lock, which no write holds.
  bool submit(std::string what, Job job);
  // Waits until every job queued before the call has run (tests, admin reads, shutdown).
  void flush();
  std::size_t pending() const;
  // The last write found the disk full or the database unreachable (and none has succeeded since).
  bool ledger_full() const { return ledger_full_.load(std::memory_order_relaxed); }

 private:
  struct Item {
    std::string what;
    Job job;
  };
  void run();
  void log_full();

  ca::Ledger& ledger_;
  Counters& counters_;
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Item> queue_;
  std::uint64_t submitted_ = 0;  // jobs queued so far
  std::uint64_t done_ = 0;       // jobs run so far
  bool stopping_ = false;
  std::atomic<bool> ledger_full_{false};
  std::chrono::steady_clock::time_point last_full_log_{};
  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace portcullis::radius
