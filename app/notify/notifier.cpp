#include "app/notify/notifier.hpp"

#include "app/http/client.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
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

}  // namespace

Notifier::Target Notifier::parse_url(const std::string& url) {
  Target t;
  std::string_view rest(url);
  if (rest.starts_with("https://")) {
    t.tls = true;
    t.port = 443;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    t.port = 80;
    rest.remove_prefix(7);
  } else {
    throw std::invalid_argument("webhook_url must start with http:// or https://");
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  t.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  // "[::1]:8080", "host:8080", "host"
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("webhook_url: unclosed '[' in the host");
    t.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw std::invalid_argument("webhook_url: bad host");
      port_text = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.find(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (t.host.empty()) throw std::invalid_argument("webhook_url has no host");
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
      throw std::invalid_argument("webhook_url has a bad port");
    t.port = static_cast<std::uint16_t>(port);
  }
  return t;
}

Notifier::Notifier(NotifierSettings settings, ca::Ledger& ledger, RejectTotals rejects)
    : settings_(std::move(settings)), target_(parse_url(settings_.webhook_url)), ledger_(ledger),
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
    for (const auto& cert : page) {
      ca::AuditFilter seen;
      seen.target = cert.serial_hex;
      seen.action = kNotifiedAction;
      seen.limit = 1;
      if (!ledger_.audit(seen).empty()) continue;  // posted for this window already
      const auto device = ledger_.find_device(cert.device_id);
      nlohmann::json body = {{"kind", "certificate_expiring"},
                             {"serial", cert.serial_hex},
                             {"device", device ? device->name : ""},
                             {"subject", cert.subject},
                             {"profile", cert.profile},
                             {"not_after", iso8601(cert.not_after)},
                             {"not_after_unix", cert.not_after},
                             {"days_left", (cert.not_after - now) / 86400},
                             {"window_days", settings_.expiry_window_days}};
      if (!post(body.dump())) return posted;  // the receiver is down: the next check tries again
      ca::AuditEntry entry;
      entry.at = now;
      entry.actor = "system";
      entry.action = kNotifiedAction;
      entry.target = cert.serial_hex;
      entry.detail = "posted to the webhook: notAfter " + iso8601(cert.not_after) + ", window " +
                     std::to_string(settings_.expiry_window_days) + " days";
      ledger_.append_audit(entry);
      ++posted;
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
    post(nlohmann::json{{"kind", "reject_spike"},
                        {"nas", nas},
                        {"rejects", delta},
                        {"period_seconds", std::chrono::duration<double>(settings_.spike_period).count()},
                        {"threshold", settings_.reject_spike_per_minute},
                        {"at", iso8601(now_unix())}}
             .dump());
  }
  last_rejects_ = totals;
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
          http_request(options, "POST", target_.path, {{"Content-Type", "application/json"}}, json_body);
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
