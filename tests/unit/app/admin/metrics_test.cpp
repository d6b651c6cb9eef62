// The metrics' recording side and the scrape's text: decisions by label set (and the bound
// on label sets), histogram buckets, the certificate census cache, and the admin API's
// access rule for /metrics.
#include "app/admin/api.hpp"
#include "app/admin/metric_instruments.hpp"
#include "app/admin/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace portcullis::app {
namespace {

using namespace std::chrono_literals;

std::string render(const MetricInstruments& instruments, const ca::IdentityIndex* index = nullptr) {
  MetricSources sources;
  sources.instruments = &instruments;
  sources.index = index;
  return MetricsScrape(sources).render(1'800'000'000);
}

TEST(MetricInstruments, DecisionsAreCountedPerLabelSet) {
  MetricInstruments m;
  m.decided({"wlc-1", radius::DecisionOutcome::accept, "ok", 20ms});
  m.decided({"wlc-1", radius::DecisionOutcome::accept, "ok", 40ms});
  m.decided({"wlc-1", radius::DecisionOutcome::reject, "policy:lost", 3s});
  m.decided({"wlc-2", radius::DecisionOutcome::reject, "reject", std::nullopt});
  const std::string text = render(m);
  EXPECT_NE(text.find("portcullis_radius_decisions_total{nas=\"wlc-1\",outcome=\"accept\",reason=\"ok\"} 2"),
            std::string::npos) << text;
  EXPECT_NE(text.find("portcullis_radius_decisions_total{nas=\"wlc-1\",outcome=\"reject\",reason=\"policy:lost\"} 1"),
            std::string::npos) << text;
  // Only the three with a handshake time are in the histogram: 20 and 40 ms under 0.05 s.
  EXPECT_NE(text.find("portcullis_eap_handshake_seconds_bucket{le=\"0.05\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("portcullis_eap_handshake_seconds_bucket{le=\"+Inf\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("portcullis_eap_handshake_seconds_count 3"), std::string::npos) << text;
  EXPECT_NE(text.find("portcullis_eap_handshake_seconds_sum 3.06"), std::string::npos) << text;
  EXPECT_EQ(m.rejects_by_nas(), (std::map<std::string, std::uint64_t>{{"wlc-1", 1}, {"wlc-2", 1}}));
}

TEST(MetricInstruments, LabelSetsAreBoundedAndConcurrentRecordingLosesNothing) {
  MetricInstruments m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 3000; ++i)
        m.decided({"nas-" + std::to_string(t * 3000 + i), radius::DecisionOutcome::reject, "reject", std::nullopt});
    });
  for (auto& t : threads) t.join();
  const auto rejects = m.rejects_by_nas();
  std::uint64_t total = 0;
  for (const auto& [nas, n] : rejects) total += n;
  EXPECT_EQ(total, 12000u);
  EXPECT_EQ(rejects.size(), MetricInstruments::kMaxDecisionSeries + 1);  // the rest under "overflow"
  EXPECT_EQ(rejects.at("overflow"), 12000u - MetricInstruments::kMaxDecisionSeries);
}

TEST(MetricsScrape, CertificateCensusIsCached) {
  MetricInstruments m;
  ca::IdentityIndex index;
  ca::CertificateRecord r;
  r.serial_hex = "0A";
  r.sha256_fingerprint = std::string(64, 'A');
  r.not_before = 1'700'000'000;
  r.not_after = 1'800'000'000 + 86400 * 3;
  index.put_certificate(r);
  MetricSources sources;
  sources.instruments = &m;
  sources.index = &index;
  MetricsScrape scrape(sources, 3600s);
  std::string text = scrape.render(1'800'000'000);
  EXPECT_NE(text.find("portcullis_certificates{status=\"valid\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("portcullis_certificates_expiring{within_days=\"1\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("portcullis_certificates_expiring{within_days=\"7\"} 1"), std::string::npos) << text;
  r.serial_hex = "0B";
  r.sha256_fingerprint = std::string(64, 'B');
  index.put_certificate(r);
  text = scrape.render(1'800'000'000);
  EXPECT_NE(text.find("portcullis_certificates{status=\"valid\"} 1"), std::string::npos) << "cached: " << text;
  text = MetricsScrape(sources, 0s).render(1'800'000'000);
  EXPECT_NE(text.find("portcullis_certificates{status=\"valid\"} 2"), std::string::npos) << text;
}

TEST(MetricInstruments, LedgerCommitTimesFillTheirHistogram) {
  MetricInstruments m;
  m.committed(300us);
  m.committed(20ms);
  const std::string text = render(m);
  EXPECT_NE(text.find("portcullis_ledger_commit_seconds_bucket{le=\"0.0005\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("portcullis_ledger_commit_seconds_bucket{le=\"0.025\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE portcullis_ledger_commit_seconds histogram"), std::string::npos) << text;
}

}  // namespace
}  // namespace portcullis::app
