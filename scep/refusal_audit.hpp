// Audit rows for refused SCEP requests (CertRep FAILURE, RFC 8894 §3.3.2).
//
// Anyone who reaches the public port can make the server refuse as often as it likes, so
// a refusal must not cost a ledger sync, nor a row for ever:
//  - rows are queued in memory and written by a background writer, every second or
//    whenever `flush_rows` are queued, all in one transaction (AuditLog::append_refusals);
//  - per source (ca::peer_source_key: an IPv4 address, or an IPv6 /64), the first
//    `rows_per_source_per_minute` refusals of each minute are written; the rest are only
//    counted, and when the minute is over one summary row says how many were suppressed,
//    with the last of them as a sample;
//  - the ledger keeps at most `max_rows` refusal rows (the oldest go).
// The requester's answer does not depend on any of this. Thread-safe.
#pragma once

#include "ca/ledger/audit.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace portcullis::scep {

struct RefusalAuditSettings {
  std::size_t rows_per_source_per_minute = 20;
  std::size_t max_rows = 100000;            // refusal rows kept in the ledger
  std::chrono::milliseconds flush_interval{1000};
  std::size_t flush_rows = 256;             // queued rows that trigger a write before the interval
  std::size_t max_queued = 4096;            // beyond this (the ledger failing or slow) rows are dropped, counted
  std::size_t max_sources = 4096;           // sources tracked at once; more share one window ("other")
  bool background_writer = true;            // false: rows are written by flush() only (tests)
  std::function<std::chrono::steady_clock::time_point()> clock;   // empty: steady_clock::now
};

struct RefusalCounters {
  std::uint64_t refused = 0;       // every refusal recorded
  std::uint64_t suppressed = 0;    // counted only (over the per-source limit)
  std::uint64_t written = 0;       // rows committed, summaries included
  std::uint64_t dropped = 0;       // rows lost: queue full or the ledger write failed
  std::uint64_t transactions = 0;  // ledger writes
};

class RefusalAudit {
 public:
  RefusalAudit(ca::AuditLog& ledger, RefusalAuditSettings settings);
  ~RefusalAudit();   // stops the writer and writes what is left, summaries included
  RefusalAudit(const RefusalAudit&) = delete;
  RefusalAudit& operator=(const RefusalAudit&) = delete;

  // `row` is the refusal's audit row (actor "scep", action "scep.reject"). Returns true
  // when it was queued for the ledger, false when it was only counted.
  bool record(std::string_view remote_address, ca::AuditEntry row);
  // Writes what is queued and the summaries of the minutes that are over, in one
  // transaction; nothing when there is nothing. Never throws (a failure is logged).
  void flush();

  RefusalCounters counters() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Window {
    Clock::time_point start;
    ca::UnixTime started_at = 0;   // wall clock, for the summary
    std::uint64_t refused = 0;
    std::uint64_t suppressed = 0;
    ca::AuditEntry last;           // the last suppressed refusal: the summary's sample
  };

  Clock::time_point now() const;
  Window& window_locked(const std::string& key, Clock::time_point now, ca::UnixTime wall);
  bool queue_locked(ca::AuditEntry row);   // false: the queue is full, the row dropped
  // "suppressed N refusals from <key>", with the last one as a sample; logged as well.
  ca::AuditEntry summary_row(const std::string& key, const Window& window);
  // Queued rows plus summaries of the windows over at `now` (all of them when `all`).
  std::vector<ca::AuditEntry> take_locked(Clock::time_point now, bool all);
  void write(std::vector<ca::AuditEntry> rows);
  void writer_loop(std::stop_token stop);

  ca::AuditLog& ledger_;
  const RefusalAuditSettings settings_;
  mutable std::mutex mutex_;   // everything below but the writer
  std::condition_variable_any wake_;
  std::unordered_map<std::string, Window> windows_;
  std::vector<ca::AuditEntry> queue_;
  RefusalCounters counters_;
  std::mutex write_mutex_;     // one ledger write at a time, in queue order
  std::jthread writer_;        // last: started once everything above exists
};

}  // namespace portcullis::scep
