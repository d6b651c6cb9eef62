// The metrics that the hot paths feed as things happen (the rest are read from existing
// counters at scrape time, app/admin/metrics.hpp): RADIUS decisions by NAS, outcome and
// reason, the EAP-TLS handshake time, and the ledger's commit time. Lock-free on the
// recording side: a probe of an insert-only table of atomic pointers and an atomic
// increment; only a label set seen for the first time takes a mutex to be added.
#pragma once

#include "ca/ledger/commit_observer.hpp"
#include "radius/decision_observer.hpp"

#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace portcullis::app {

// Fixed upper bounds (seconds, ascending), one atomic count per bucket and the +Inf one.
class AtomicHistogram {
 public:
  explicit AtomicHistogram(std::vector<double> upper_bounds);
  void observe(std::chrono::nanoseconds value) noexcept;
  prometheus::ClientMetric collect() const;  // cumulative buckets, as the text format wants

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<std::uint64_t> sum_ns_{0};
};

class MetricInstruments final : public radius::DecisionObserver, public ca::CommitObserver {
 public:
  // Label sets beyond this many (NAS names and rules come from the config, reasons from a
  // fixed vocabulary, so reaching it means a bug) are counted under nas="overflow".
  static constexpr std::size_t kMaxDecisionSeries = 10000;

  MetricInstruments();
  void decided(const radius::DecisionSeen& decision) noexcept override;
  void committed(std::chrono::nanoseconds took) noexcept override;

  // portcullis_radius_decisions_total, portcullis_eap_handshake_seconds,
  // portcullis_ledger_commit_seconds.
  std::vector<prometheus::MetricFamily> collect() const;
  // Access-Rejects so far by NAS name (for the reject-spike alert).
  std::map<std::string, std::uint64_t> rejects_by_nas() const;

 private:
  struct Series {
    std::string key;  // nas, outcome, reason joined by NULs
    std::string nas, outcome, reason;
    std::atomic<std::uint64_t> count{0};
  };
  Series& series_for(std::string_view nas, const char* outcome, std::string_view reason);
  Series* find(const std::string& key, std::size_t hash) const;  // null when absent
  template <class Fn>
  void for_each_series(Fn&& fn) const;

  // Open addressing, linear probing, twice the bound so a probe always ends at an empty
  // slot. A slot goes from null to its Series once and never changes again; the Series
  // (owned by owned_) lives as long as this object.
  static constexpr std::size_t kSlots = 2 * 16384;
  std::unique_ptr<std::atomic<Series*>[]> slots_;
  std::mutex grow_;                              // one inserter at a time
  std::vector<std::unique_ptr<Series>> owned_;   // guarded by grow_
  std::size_t size_ = 0;                         // guarded by grow_
  AtomicHistogram handshake_;
  AtomicHistogram commit_;
};

}  // namespace portcullis::app
