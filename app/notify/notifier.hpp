// Alerts posted as JSON to [notify] webhook_url, from a thread of its own so that nothing
// (RADIUS, SCEP, the admin API) ever waits for the receiver. Every POST carries a batch:
// {"alerts":[A…],"dropped":n}, at most batch_alerts alerts and batch_bytes bytes, each
// alert with its "kind":
//  - certificate_expiring: certificates entering the expiry window, checked at start-up
//    and then every check_interval_hours; each certificate is posted once per window,
//    remembered as an audit row (action "notify.expiring", target its serial) written
//    after the receiver accepted its batch, so a restart does not post it again and a
//    failed batch is posted again at the next check;
//  - reject_spike: every minute, each NAS whose Access-Rejects in that minute reached
//    reject_spike_per_minute. These wait in a bounded queue (queue_limit) while the
//    receiver is down; beyond it new ones are dropped and counted, and "dropped" in the
//    next accepted batch says how many were lost.
// A post is retried with exponential backoff (1 s, 2 s, 4 s, … up to `attempts`); a 2xx
// answer is success.
#pragma once

#include "app/http/url.hpp"
#include "ca/ledger/ledger.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <thread>

namespace portcullis::app {

struct NotifierSettings {
  std::string webhook_url;                   // http:// or https://; empty = no notifier
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";  // anchors an https receiver
  int expiry_window_days = 30;
  std::chrono::seconds check_interval{24 * 3600};
  int reject_spike_per_minute = 0;           // 0 = no spike alerts
  std::chrono::milliseconds spike_period{60000};  // the "minute" (tests shorten it)
  int attempts = 5;
  std::chrono::milliseconds first_backoff{1000};
  std::size_t batch_alerts = 100;            // alerts per POST at most
  std::size_t batch_bytes = 256 * 1024;      // body bytes per POST at most (one alert may exceed it alone)
  std::size_t queue_limit = 1000;            // spike alerts waiting for the receiver at most
};

struct NotifierCounters {
  std::uint64_t alerts_posted = 0;    // in batches the receiver accepted
  std::uint64_t alerts_dropped = 0;   // the queue was full
  std::uint64_t posts_failed = 0;     // batches every attempt of which failed
  std::uint64_t queued = 0;           // waiting now
};

class Notifier {
 public:
  // Access-Rejects so far by NAS name (a running total; the notifier takes differences).
  using RejectTotals = std::function<std::map<std::string, std::uint64_t>()>;

  // Throws std::invalid_argument for a webhook URL it cannot use. `ledger` must outlive it.
  Notifier(NotifierSettings settings, ca::Ledger& ledger, RejectTotals rejects);
  ~Notifier();  // stop()s
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void start();
  // Returns at once between posts; during one, when its current step (5 s at most) ends.
  void stop();

  // The steps the thread runs, callable directly before start() (tests):
  // one expiry check now; returns how many certificates the receiver accepted.
  std::size_t check_expiry(ca::UnixTime now);
  // Queues an alert per NAS whose rejects since the last call reached the threshold.
  void check_spikes();
  // Posts the queued alerts in batches; false when the receiver failed (they stay queued).
  bool flush();

  NotifierCounters counters() const;

 private:
  // Posts alerts[0..n) for the longest n within the batch limits (at least 1); 0 when
  // the receiver failed.
  std::size_t post_batch(std::span<const std::string> alerts);
  void run();
  bool post(const std::string& json_body);  // with retries; false when every attempt failed or stopping
  bool wait(std::chrono::steady_clock::duration d);  // false when stopping

  NotifierSettings settings_;
  HttpUrl target_;
  ca::Ledger& ledger_;
  RejectTotals rejects_;
  std::map<std::string, std::uint64_t> last_rejects_;  // notifier thread only
  std::deque<std::string> queue_;                      // alerts (JSON); notifier thread only
  std::uint64_t dropped_unreported_ = 0;               // notifier thread only
  std::atomic<std::uint64_t> posted_{0}, dropped_{0}, failed_{0}, queued_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace portcullis::app
