// A per-source limit on log lines that anyone reaching the public port can cause at will
// (a malformed PKIOperation: RFC 8894 §3.3.2 has no CertRep for it, so it is only an
// HTTP 400 and a log line). Per source (ca::peer_source_key: an IPv4 address, an IPv6
// /64), the first `lines_per_source_per_minute` lines of each minute are logged; the rest
// are only counted, and once the minute is over one line says how many were left out.
// Separate from RefusalAudit's windows: those carry audit rows (a sample, a summary row in
// the ledger), and counting these lines there would suppress refusal rows instead.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace portcullis::scep {

struct SourceLogLimitSettings {
  std::size_t lines_per_source_per_minute = 20;
  std::size_t max_sources = 4096;   // sources tracked at once; more share one window ("other")
  std::function<std::chrono::steady_clock::time_point()> clock;   // empty: steady_clock::now
};

struct SourceLogLimitCounters {
  std::uint64_t seen = 0;         // every line asked for
  std::uint64_t suppressed = 0;   // counted only (over the per-source limit)
};

class SourceLogLimit {
 public:
  // `what` names the lines in the summary ("unreadable PKIOperation").
  SourceLogLimit(std::string what, SourceLogLimitSettings settings);

  // true: log the line; false: it is counted only. Logs the summary of a source's minute
  // that is over (here or in the sweep of all sources once a minute).
  bool allow(std::string_view remote_address);

  SourceLogLimitCounters counters() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Window {
    Clock::time_point start;
    std::uint64_t lines = 0;
    std::uint64_t suppressed = 0;
  };

  Clock::time_point now() const;
  void summarise(const std::string& key, const Window& window) const;
  void sweep_locked(Clock::time_point now);   // summarises and forgets the minutes that are over

  const std::string what_;
  const SourceLogLimitSettings settings_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;
  Clock::time_point last_sweep_{};
  SourceLogLimitCounters counters_;
};

}  // namespace portcullis::scep
