// GET /metrics: the Prometheus text exposition format (0.0.4), serialised by prometheus-cpp's
// TextSerializer from the counters the components keep anyway, read at scrape time, plus
// what MetricInstruments recorded. The metric names and labels are listed in
// docs/operations.md, "Metrics and alerts".
#pragma once

#include "app/admin/metric_instruments.hpp"
#include "app/admin/radsec_stats.hpp"
#include "ca/identity_index.hpp"
#include "radius/dynauth_client.hpp"
#include "radius/server.hpp"
#include "scep/enrollment.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::app {

// What a scrape reads; each may be absent (SCEP off, before the dynauth client runs).
// Everything named must outlive the MetricsScrape.
// How this node follows a shared ledger (app/ledger_health.hpp reads it off the change
// follower).
struct LedgerMetrics {
  bool connected = true;
  std::optional<double> catch_up_age_seconds;   // nullopt: no complete catch-up yet
  std::uint64_t changes_applied = 0;
};

struct MetricSources {
  const MetricInstruments* instruments = nullptr;
  const radius::Server* radius = nullptr;
  const scep::Enrollment* scep = nullptr;
  const ca::IdentityIndex* index = nullptr;
  std::function<std::optional<radius::DynauthClientStats>()> dynauth;
  // The decision events' queue: events dropped because it was full. Empty: 0.
  std::function<std::uint64_t()> events_dropped;
  // The RadSec listener's counts; empty or nullopt: [radsec] is off (no radsec metrics).
  std::function<std::optional<RadsecStats>()> radsec;
  // A shared ledger's follower; nullopt or empty: a ledger this
  // process owns alone, no ledger metrics.
  std::function<std::optional<LedgerMetrics>()> ledger;
};

class MetricsScrape {
 public:
  // The certificate census walks the whole in-memory index: it is redone at most once per
  // `census_ttl`, so scrapes every few seconds cost nothing with a million certificates.
  explicit MetricsScrape(MetricSources sources, std::chrono::seconds census_ttl = std::chrono::seconds(30));

  // Thread-safe. `now` is the wall clock for the certificate statuses.
  std::string render(ca::UnixTime now);

  // portcullis_certificates_expiring{within_days}: these windows.
  static constexpr std::array<int, 3> kExpiringWithinDays{1, 7, 30};

 private:
  ca::CertificateCensus census(ca::UnixTime now);

  MetricSources sources_;
  std::chrono::seconds census_ttl_;
  std::mutex census_mutex_;
  std::optional<ca::CertificateCensus> census_;          // guarded by census_mutex_
  std::chrono::steady_clock::time_point census_taken_;  // guarded by census_mutex_
};

}  // namespace portcullis::app
