#include "app/notify/notifier.hpp"

#include "app/http/client.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <ctime>
#include <stdexcept>

namespace portcullis::app {
namespace {

constexpr const char* kNotifiedAction = "notify.expiring";

ca::UnixTime now_unix() { return static_cast<ca::UnixTime>(std::time(nullptr)); }

std::string iso8601(ca::UnixTime t) {
  std::tm tm{};
  const std::time_t tt = static_cast<std::time_t>(t);
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// One certificate entering the expiry window, as an alert.
std::string expiry_alert(ca::Ledger& ledger, const ca::CertificateRecord& cert, ca::UnixTime now, int window_days) {
  const auto device = ledger.find_device(cert.device_id);
  return nlohmann::json{{"kind", "certificate_expiring"},
                        {"serial", cert.serial_hex},
                        {"device", device ? device->name : ""},
                        {"subject", cert.subject},
                        {"profile", cert.profile},
                        {"not_after", iso8601(cert.not_after)},
                        {"not_after_unix", cert.not_after},
                        {"days_left", (cert.not_after - now) / 86400},
                        {"window_days", window_days}}
      .dump();
}

void remember_posted(ca::Ledger& ledger, const ca::CertificateRecord& cert, ca::UnixTime now, int window_days) {
  ca::AuditEntry entry;
  entry.at = now;
  entry.actor = "system";
  entry.action = kNotifiedAction;
  entry.target = cert.serial_hex;
  entry.detail = "posted to the webhook: notAfter " + iso8601(cert.not_after) + ", window " +
                 std::to_string(window_days) + " days";
  ledger.append_audit(entry);
}

}  // namespace

Notifier::Notifier(NotifierSettings settings, ca::Ledger& ledger, RejectTotals rejects)
    : settings_(std::move(settings)), target_(parse_http_url(settings_.webhook_url)), ledger_(ledger),
      rejects_(std::move(rejects)) {}

Notifier::~Notifier() { stop(); }

void Notifier::start() {
  if (rejects_) last_rejects_ = rejects_();
  thread_ = std::thread([this] { run(); });
}

void Notifier::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Notifier::wait(std::chrono::steady_clock::duration d) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, d, [this] { return stopping_; });
}

void Notifier::run() {
  auto next_expiry = std::chrono::steady_clock::now();
  auto next_spike = std::chrono::steady_clock::now() + settings_.spike_period;
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_expiry) {
      try {
        check_expiry(now_unix());
      } catch (const std::exception& e) {
        spdlog::error("notify: expiry check failed: {}", e.what());
      }
      next_expiry = std::chrono::steady_clock::now() + settings_.check_interval;
    }
    if (now >= next_spike) {
      check_spikes();
      flush();
      next_spike += settings_.spike_period;
    }
    const auto until = std::min(next_expiry, next_spike);
    if (!wait(until - std::chrono::steady_clock::now())) return;
  }
}

std::size_t Notifier::check_expiry(ca::UnixTime now) {
  ca::CertificateFilter filter;
  filter.now = now;
  filter.status = "valid";
  filter.expiring_before = now + static_cast<ca::UnixTime>(settings_.expiry_window_days) * 86400;
  filter.limit = 1000;
  std::size_t posted = 0;
  for (;;) {
    const auto page = ledger_.list_certificates(filter);
    std::vector<std::string> alerts;
    std::vector<const ca::CertificateRecord*> certs;
    for (const auto& cert : page) {
      ca::AuditFilter seen;
      seen.target = cert.serial_hex;
      seen.action = kNotifiedAction;
      seen.limit = 1;
      if (!ledger_.audit(seen).empty()) continue;  // posted for this window already
      alerts.push_back(expiry_alert(ledger_, cert, now, settings_.expiry_window_days));
      certs.push_back(&cert);
    }
    for (std::size_t done = 0; done < alerts.size();) {
      const std::size_t n = post_batch(std::span(alerts).subspan(done));
      if (n == 0) return posted;  // the receiver is down: the next check tries again
      for (std::size_t i = done; i < done + n; ++i) remember_posted(ledger_, *certs[i], now, settings_.expiry_window_days);
      done += n;
      posted += n;
    }
    if (page.size() < filter.limit) break;
    filter.offset += page.size();
  }
  if (posted > 0) spdlog::info("notify: {} certificate(s) entering the {}-day expiry window posted", posted,
                               settings_.expiry_window_days);
  return posted;
}

void Notifier::check_spikes() {
  if (!rejects_ || settings_.reject_spike_per_minute <= 0) return;
  const auto totals = rejects_();
  for (const auto& [nas, total] : totals) {
    const auto previous = last_rejects_.find(nas);
    const std::uint64_t delta = total - (previous == last_rejects_.end() ? 0 : previous->second);
    if (delta < static_cast<std::uint64_t>(settings_.reject_spike_per_minute)) continue;
    spdlog::warn("notify: reject spike at NAS {}: {} Access-Rejects in {} ms", nas, delta, settings_.spike_period.count());
    if (queue_.size() >= settings_.queue_limit) {
      // The receiver has been down for a while: the newest alert goes, counted and reported
      // in the next accepted batch, so a dead receiver costs bounded memory.
      ++dropped_;
      if (++dropped_unreported_ == 1)
        spdlog::warn("notify: {} alerts wait for the webhook receiver already; dropping new ones until it answers",
                     queue_.size());
      continue;
    }
    queue_.push_back(nlohmann::json{{"kind", "reject_spike"},
                                    {"nas", nas},
                                    {"rejects", delta},
                                    {"period_seconds", std::chrono::duration<double>(settings_.spike_period).count()},
                                    {"threshold", settings_.reject_spike_per_minute},
                                    {"at", iso8601(now_unix())}}
                         .dump());
  }
  queued_ = queue_.size();
  last_rejects_ = totals;
}

bool Notifier::flush() {
  while (!queue_.empty()) {
    const std::size_t take = std::min(queue_.size(), settings_.batch_alerts);
    const std::vector<std::string> head(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(take));
    const std::size_t n = post_batch(head);
    if (n == 0) return false;
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    queued_ = queue_.size();
  }
  return true;
}

std::size_t Notifier::post_batch(std::span<const std::string> alerts) {
  std::size_t n = 0, bytes = 0;
  while (n < alerts.size() && n < settings_.batch_alerts &&
         (n == 0 || bytes + alerts[n].size() + 1 <= settings_.batch_bytes)) {
    bytes += alerts[n].size() + 1;
    ++n;
  }
  std::string body = "{\"alerts\":[";
  for (std::size_t i = 0; i < n; ++i) body += (i ? "," : "") + alerts[i];
  body += "],\"dropped\":" + std::to_string(dropped_unreported_) + "}";
  if (!post(body)) {
    ++failed_;
    return 0;
  }
  dropped_unreported_ = 0;
  posted_ += n;
  return n;
}

NotifierCounters Notifier::counters() const {
  return {posted_.load(), dropped_.load(), failed_.load(), queued_.load()};
}

bool Notifier::post(const std::string& json_body) {
  HttpClientOptions options;
  options.host = target_.host;
  options.port = target_.port;
  options.tls = target_.tls;
  options.ca_file = settings_.ca_file;
  options.timeout = std::chrono::seconds(5);  // per step; bounds how long stop() can wait
  auto backoff = settings_.first_backoff;
  for (int attempt = 1; attempt <= settings_.attempts; ++attempt) {
    try {
      const auto response =
          http_request(options, "POST", target_.target, {{"Content-Type", "application/json"}}, json_body);
      if (response.status >= 200 && response.status < 300) return true;
      spdlog::warn("notify: webhook answered {} (attempt {} of {})", response.status, attempt, settings_.attempts);
    } catch (const std::exception& e) {
      spdlog::warn("notify: webhook post failed (attempt {} of {}): {}", attempt, settings_.attempts, e.what());
    }
    if (attempt == settings_.attempts || !wait(backoff)) break;
    backoff *= 2;
  }
  return false;
}

}  // namespace portcullis::app
