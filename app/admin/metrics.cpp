#include "app/admin/metrics.hpp"

#include "scep/pki_message.hpp"

#include <prometheus/text_serializer.h>

#include <map>
#include <sstream>
#include <string_view>

namespace portcullis::app {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric value_metric(MetricType type, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) m.counter.value = value;
  else m.gauge.value = value;
  return m;
}

MetricFamily single(const char* name, const char* help, MetricType type, double value) {
  return MetricFamily{name, help, type, {value_metric(type, value)}};
}

// RADIUS datagrams dropped without an answer (RFC 2865 §3, RFC 3579 §3.2, RFC 5080
// §2.2.2), by the server counter that counted them.
constexpr std::string_view kDropReasons[] = {
    "unknown_nas",          "malformed_truncated",   "malformed_bad_length",
    "malformed_bad_attribute", "unexpected_code",    "missing_message_authenticator",
    "invalid_message_authenticator", "duplicate_in_progress", "eap_not_consecutive",
    "eap_discard",          "reply_too_large",       "internal_error",
    "acct_bad_authenticator", "acct_store_failed",   "send_failed"};

void add_radius(std::vector<MetricFamily>& out, const radius::Server& server) {
  MetricFamily dropped{"portcullis_radius_dropped_total", "RADIUS datagrams dropped unanswered, by reason",
                       MetricType::Counter, {}};
  MetricFamily replies{"portcullis_radius_replies_total", "RADIUS replies sent, by code", MetricType::Counter, {}};
  for (const auto& [name, value] : server.counters().snapshot()) {
    for (std::string_view reason : kDropReasons)
      if (name == reason)
        dropped.metric.push_back(value_metric(MetricType::Counter, static_cast<double>(value), {{"reason", std::string(name)}}));
    if (name == "access_accept" || name == "access_reject" || name == "access_challenge" || name == "acct_response")
      replies.metric.push_back(value_metric(MetricType::Counter, static_cast<double>(value), {{"code", std::string(name)}}));
  }
  out.push_back(std::move(dropped));
  out.push_back(std::move(replies));
  out.push_back(single("portcullis_eap_conversations_open", "EAP conversations in progress (awaiting the peer)",
                       MetricType::Gauge, static_cast<double>(server.eap_conversations())));
  out.push_back(single("portcullis_radius_sessions_live", "Accounting sessions open (started, not stopped)",
                       MetricType::Gauge, static_cast<double>(server.live_sessions().size())));
}

void add_scep(std::vector<MetricFamily>& out, const scep::EnrollmentCounters& c) {
  MetricFamily requests{"portcullis_scep_requests_total", "SCEP requests answered, by operation and outcome",
                        MetricType::Counter, {}};
  const auto add = [&](const char* operation, const char* outcome, std::uint64_t value) {
    requests.metric.push_back(value_metric(MetricType::Counter, static_cast<double>(value),
                                           {{"operation", operation}, {"outcome", outcome}}));
  };
  add("PKIOperation", "issued", c.issued);
  add("PKIOperation", "renewed", c.renewed);
  add("PKIOperation", "pending", c.pending);
  add("PKIOperation", "repeated", c.repeated);
  add("PKIOperation", "rejected", c.rejected);
  add("PKIOperation", "malformed", c.malformed);
  add("GetCert", "success", c.certificates_sent);
  add("GetCRL", "success", c.crls_sent);
  out.push_back(std::move(requests));
  MetricFamily rejected{"portcullis_scep_rejected_total", "SCEP CertRep FAILURE answers, by failInfo (RFC 8894 §3.2.1.4)",
                        MetricType::Counter, {}};
  for (std::size_t i = 0; i < c.rejected_by_fail_info.size(); ++i)
    rejected.metric.push_back(value_metric(MetricType::Counter, static_cast<double>(c.rejected_by_fail_info[i]),
                                           {{"fail_info", scep::to_string(static_cast<scep::FailInfo>(i))}}));
  out.push_back(std::move(rejected));
}

void add_dynauth(std::vector<MetricFamily>& out, const std::optional<radius::DynauthClientStats>& stats) {
  MetricFamily family{"portcullis_dynauth_total", "RFC 5176 Disconnect/CoA requests completed, by kind and result",
                      MetricType::Counter, {}};
  constexpr const char* kinds[] = {"disconnect", "coa"};
  constexpr const char* results[] = {"ack", "nak", "timeout"};
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t r = 0; r < 3; ++r)
      family.metric.push_back(value_metric(MetricType::Counter, stats ? static_cast<double>(stats->completed[k][r]) : 0.0,
                                           {{"kind", kinds[k]}, {"result", results[r]}}));
  out.push_back(std::move(family));
}

void add_certificates(std::vector<MetricFamily>& out, const ca::CertificateCensus& c) {
  out.push_back(MetricFamily{"portcullis_certificates", "Certificates in the ledger, by status", MetricType::Gauge,
                             {value_metric(MetricType::Gauge, static_cast<double>(c.valid), {{"status", "valid"}}),
                              value_metric(MetricType::Gauge, static_cast<double>(c.revoked), {{"status", "revoked"}}),
                              value_metric(MetricType::Gauge, static_cast<double>(c.expired), {{"status", "expired"}})}});
  MetricFamily expiring{"portcullis_certificates_expiring", "Valid certificates whose notAfter is within the window",
                        MetricType::Gauge, {}};
  for (std::size_t i = 0; i < MetricsScrape::kExpiringWithinDays.size() && i < c.expiring.size(); ++i)
    expiring.metric.push_back(value_metric(MetricType::Gauge, static_cast<double>(c.expiring[i]),
                                           {{"within_days", std::to_string(MetricsScrape::kExpiringWithinDays[i])}}));
  out.push_back(std::move(expiring));
}

MetricFamily labelled(const char* name, const char* help, MetricType type, const char* label,
                      const std::map<std::string, std::uint64_t>& values) {
  MetricFamily family{name, help, type, {}};
  for (const auto& [key, value] : values)
    family.metric.push_back(value_metric(type, static_cast<double>(value), {{label, key}}));
  return family;
}

void add_radsec(std::vector<MetricFamily>& out, const RadsecStats& s) {
  out.push_back(single("portcullis_radsec_connections_open", "RadSec TCP connections open, TLS handshakes included",
                       MetricType::Gauge, static_cast<double>(s.open)));
  // One series per RadSec client with a connection: the names come from the config.
  out.push_back(labelled("portcullis_radsec_nas_connections_open", "RadSec connections admitted and open, by NAS client",
                         MetricType::Gauge, "nas", s.open_by_nas));
  out.push_back(single("portcullis_radsec_connections_accepted_total",
                       "RadSec TCP connections accepted under the total cap", MetricType::Counter,
                       static_cast<double>(s.accepted)));
  out.push_back(labelled("portcullis_radsec_connections_admitted_total",
                         "RadSec connections admitted after the handshake, by TLS version", MetricType::Counter,
                         "tls_version", s.admitted_by_tls_version));
  out.push_back(labelled("portcullis_radsec_connections_refused_total",
                         "RadSec connections refused, by reason (docs/events.md, kind radsec)", MetricType::Counter,
                         "reason", s.refused_by_reason));
  out.push_back(labelled("portcullis_radsec_connections_closed_total", "Admitted RadSec connections closed by the server, by reason",
                         MetricType::Counter, "reason",
                         {{"idle", s.closed_idle}, {"revoked", s.closed_revoked}, {"bad_framing", s.closed_bad_framing}}));
  out.push_back(labelled("portcullis_radsec_packets_total", "RADIUS packets over RadSec, by direction", MetricType::Counter,
                         "direction", {{"request", s.requests}, {"reply", s.replies}}));
  out.push_back(MetricFamily{"portcullis_radsec_handshake_seconds", "RadSec TLS handshake time of admitted connections",
                             MetricType::Histogram, {s.handshake}});
}

void add_ledger(std::vector<MetricFamily>& out, const LedgerMetrics& s) {
  out.push_back(single("portcullis_ledger_connected",
                       "1 while this node can read the shared ledger's changes, 0 while the database is unreachable",
                       MetricType::Gauge, s.connected ? 1.0 : 0.0));
  // Before the first catch-up the node has not heard from the ledger at all: as stale as -1 says.
  out.push_back(single("portcullis_ledger_catch_up_age_seconds",
                       "Seconds since this node last read every change other nodes committed (-1: not yet)",
                       MetricType::Gauge, s.catch_up_age_seconds.value_or(-1.0)));
  out.push_back(single("portcullis_ledger_changes_applied_total",
                       "Changes committed on the shared ledger applied to this node's identity index",
                       MetricType::Counter, static_cast<double>(s.changes_applied)));
}

}  // namespace

MetricsScrape::MetricsScrape(MetricSources sources, std::chrono::seconds census_ttl)
    : sources_(std::move(sources)), census_ttl_(census_ttl) {}

ca::CertificateCensus MetricsScrape::census(ca::UnixTime now) {
  std::lock_guard lock(census_mutex_);
  const auto steady = std::chrono::steady_clock::now();
  if (!census_ || steady - census_taken_ >= census_ttl_) {
    std::array<ca::UnixTime, kExpiringWithinDays.size()> windows{};
    for (std::size_t i = 0; i < windows.size(); ++i) windows[i] = static_cast<ca::UnixTime>(kExpiringWithinDays[i]) * 86400;
    census_ = sources_.index->census(now, windows);
    census_taken_ = steady;
  }
  return *census_;
}

std::string MetricsScrape::render(ca::UnixTime now) {
  std::vector<MetricFamily> families;
  if (sources_.instruments != nullptr)
    for (auto& family : sources_.instruments->collect()) families.push_back(std::move(family));
  if (sources_.radius != nullptr) add_radius(families, *sources_.radius);
  add_scep(families, sources_.scep != nullptr ? sources_.scep->counters() : scep::EnrollmentCounters{});
  add_dynauth(families, sources_.dynauth ? sources_.dynauth() : std::nullopt);
  if (sources_.index != nullptr) add_certificates(families, census(now));
  if (sources_.radsec)
    if (const auto radsec = sources_.radsec()) add_radsec(families, *radsec);
  if (sources_.ledger)
    if (const auto state = sources_.ledger()) add_ledger(families, *state);
  families.push_back(single("portcullis_events_dropped_total",
                            "Decision events dropped because their queue was full", MetricType::Counter,
                            sources_.events_dropped ? static_cast<double>(sources_.events_dropped()) : 0.0));
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, families);
  return text.str();
}

}  // namespace portcullis::app
