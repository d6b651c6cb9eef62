// Alerts posted as JSON to [notify] webhook_url, from a thread of its own so that nothing
// (RADIUS, SCEP, the admin API) ever waits for the receiver:
//  - certificates entering the expiry window: checked at start-up and then every
//    check_interval_hours; each certificate is posted once per window, remembered as an
//    audit row (action "notify.expiring", target its serial) written after the receiver
//    accepted it, so a restart does not post it again and a failed post is retried at
//    the next check;
//  - reject spikes: every minute, each NAS whose Access-Rejects in that minute reached
//    reject_spike_per_minute.
// A post is retried with exponential backoff (1 s, 2 s, 4 s, … up to `attempts`); a 2xx
// answer is success.
#pragma once

#include "ca/ledger/ledger.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
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

  // One expiry check now (the thread calls it); returns how many certificates were posted.
  std::size_t check_expiry(ca::UnixTime now);

 private:
  struct Target {
    bool tls = false;
    std::string host, path;
    std::uint16_t port = 0;
  };
  static Target parse_url(const std::string& url);
  void run();
  void check_spikes();
  bool post(const std::string& json_body);  // with retries; false when every attempt failed or stopping
  bool wait(std::chrono::steady_clock::duration d);  // false when stopping

  NotifierSettings settings_;
  Target target_;
  ca::Ledger& ledger_;
  RejectTotals rejects_;
  std::map<std::string, std::uint64_t> last_rejects_;  // notifier thread only
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace portcullis::app
