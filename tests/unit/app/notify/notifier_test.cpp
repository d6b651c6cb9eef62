// The webhook notifier against a real loopback HttpServer as its receiver: retries with
// backoff until a 2xx, each expiring certificate posted once (remembered in the audit log)
// in bounded batches, reject spikes per NAS, a dead receiver's bounded queue, and URLs it
// refuses.
#include "app/http/server.hpp"
#include "app/notify/notifier.hpp"
#include "ca/ledger/ledger.hpp"

#include "../../ca/ledger_fixtures.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <thread>

namespace portcullis::app {
namespace {

using nlohmann::json;

// A receiver answering 503 to its first `failures` posts and 200 after.
class Receiver {
 public:
  explicit Receiver(int failures)
      : failures_(failures), guard_(ioc_.get_executor()), server_(ioc_, options(), [this](const HttpRequest& r) {
          return receive(r);
        }) {
    server_.start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Receiver() {
    server_.stop();
    guard_.reset();
    ioc_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + "/hook"; }
  std::vector<std::pair<int, json>> posts() {
    std::lock_guard lock(mutex_);
    return posts_;
  }

 private:
  static HttpServerOptions options() {
    HttpServerOptions o;
    o.name = "receiver";
    return o;
  }
  HttpResponse receive(const HttpRequest& r) {
    std::lock_guard lock(mutex_);
    HttpResponse response;
    response.status = failures_ > 0 ? 503 : 200;
    if (failures_ > 0) --failures_;
    posts_.emplace_back(response.status, json::parse(r.body));
    return response;
  }

  std::mutex mutex_;
  int failures_;
  std::vector<std::pair<int, json>> posts_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  HttpServer server_;
  std::thread thread_;
};

NotifierSettings fast(const std::string& url) {
  NotifierSettings s;
  s.webhook_url = url;
  s.first_backoff = std::chrono::milliseconds(10);
  s.attempts = 4;
  return s;
}

ca::CertificateRecord record(const std::string& serial, ca::UnixTime not_after) {
  return ca::testing::make_record(serial, not_after - 10 * 86400, not_after);
}

TEST(Notifier, ExpiringCertificatesArePostedOnceAfterRetries) {
  Receiver receiver(2);
  auto ledger = ca::open_sqlite_ledger(":memory:");
  const ca::UnixTime now = 1'800'000'000;
  const auto device = ledger->create_device({"laptop", "", "", {}}, "test");
  ca::DeviceRef ref;
  ref.id = device.id;
  ledger->record_issuance(ref, record("0A01", now + 5 * 86400), "test");    // inside 30 days
  ledger->record_issuance(ref, record("0A02", now + 300 * 86400), "test");  // outside
  ledger->record_issuance(ref, record("0A03", now - 86400), "test");        // expired already

  Notifier notifier(fast(receiver.url()), *ledger, {});
  EXPECT_EQ(notifier.check_expiry(now), 1u);
  const auto posts = receiver.posts();
  ASSERT_EQ(posts.size(), 3u);  // 503, 503, then accepted
  EXPECT_EQ(posts[0].first, 503);
  EXPECT_EQ(posts[2].first, 200);
  ASSERT_EQ(posts[2].second["alerts"].size(), 1u);
  const json& alert = posts[2].second["alerts"][0];
  EXPECT_EQ(alert["kind"], "certificate_expiring");
  EXPECT_EQ(alert["serial"], "0A01");
  EXPECT_EQ(alert["device"], "laptop");
  EXPECT_EQ(alert["days_left"], 5);
  EXPECT_EQ(posts[2].second["dropped"], 0);
  // Once per certificate: the next check posts nothing.
  EXPECT_EQ(notifier.check_expiry(now + 3600), 0u);
  EXPECT_EQ(receiver.posts().size(), 3u);
  ca::AuditFilter filter;
  filter.action = "notify.expiring";
  ASSERT_EQ(ledger->audit(filter).size(), 1u);
  EXPECT_EQ(ledger->audit(filter)[0].target, "0A01");
}

TEST(Notifier, AReceiverThatStaysDownLeavesTheCertificateForTheNextCheck) {
  Receiver receiver(100);
  auto ledger = ca::open_sqlite_ledger(":memory:");
  const ca::UnixTime now = 1'800'000'000;
  const auto device = ledger->create_device({"laptop", "", "", {}}, "test");
  ca::DeviceRef ref;
  ref.id = device.id;
  ledger->record_issuance(ref, record("0B01", now + 86400), "test");
  Notifier notifier(fast(receiver.url()), *ledger, {});
  EXPECT_EQ(notifier.check_expiry(now), 0u);
  EXPECT_EQ(receiver.posts().size(), 4u);  // every attempt
  ca::AuditFilter filter;
  filter.action = "notify.expiring";
  EXPECT_TRUE(ledger->audit(filter).empty());
}

TEST(Notifier, RejectSpikesPerNasAreReportedEachPeriod) {
  Receiver receiver(0);
  auto ledger = ca::open_sqlite_ledger(":memory:");
  std::mutex mutex;
  std::map<std::string, std::uint64_t> totals{{"wlc-1", 10}, {"wlc-2", 0}};
  NotifierSettings settings = fast(receiver.url());
  settings.reject_spike_per_minute = 5;
  settings.spike_period = std::chrono::milliseconds(200);
  settings.check_interval = std::chrono::hours(24);
  Notifier notifier(settings, *ledger, [&] {
    std::lock_guard lock(mutex);
    return totals;
  });
  notifier.start();  // the totals at start are the baseline: wlc-1's 10 are old
  {
    std::lock_guard lock(mutex);
    totals["wlc-1"] = 12;  // +2: under the threshold
    totals["wlc-2"] = 7;   // +7: a spike
  }
  for (int i = 0; i < 100 && receiver.posts().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // another period: no new spike
  notifier.stop();
  const auto posts = receiver.posts();
  ASSERT_EQ(posts.size(), 1u);
  ASSERT_EQ(posts[0].second["alerts"].size(), 1u);
  const json& alert = posts[0].second["alerts"][0];
  EXPECT_EQ(alert["kind"], "reject_spike");
  EXPECT_EQ(alert["nas"], "wlc-2");
  EXPECT_EQ(alert["rejects"], 7);
  EXPECT_EQ(alert["threshold"], 5);
}

TEST(Notifier, ManyExpiringCertificatesGoInBoundedBatches) {
  Receiver receiver(0);
  auto ledger = ca::open_sqlite_ledger(":memory:");
  const ca::UnixTime now = 1'800'000'000;
  const auto device = ledger->create_device({"laptop", "", "", {}}, "test");
  ca::DeviceRef ref;
  ref.id = device.id;
  for (int i = 0; i < 25; ++i) {
    char serial[8];
    std::snprintf(serial, sizeof serial, "0C%02X", i);
    ledger->record_issuance(ref, record(serial, now + 86400), "test");
  }
  NotifierSettings settings = fast(receiver.url());
  settings.batch_alerts = 10;
  Notifier notifier(settings, *ledger, {});
  EXPECT_EQ(notifier.check_expiry(now), 25u);
  std::vector<std::size_t> sizes;
  for (const auto& [status, body] : receiver.posts()) sizes.push_back(body["alerts"].size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{10, 10, 5}));
  EXPECT_EQ(notifier.counters().alerts_posted, 25u);
  ca::AuditFilter filter;
  filter.action = "notify.expiring";
  EXPECT_EQ(ledger->audit(filter).size(), 25u);

  // The byte bound: an alert is about 250 bytes, so 600 bytes hold two.
  auto other = ca::open_sqlite_ledger(":memory:");
  const auto d2 = other->create_device({"phone", "", "", {}}, "test");
  ref.id = d2.id;
  for (const char* serial : {"0D01", "0D02", "0D03", "0D04", "0D05"}) other->record_issuance(ref, record(serial, now + 86400), "test");
  Receiver small_receiver(0);
  settings = fast(small_receiver.url());
  settings.batch_bytes = 600;
  Notifier small(settings, *other, {});
  EXPECT_EQ(small.check_expiry(now), 5u);
  for (const auto& [status, body] : small_receiver.posts()) {
    EXPECT_LE(body["alerts"].size(), 2u);
    EXPECT_GE(body["alerts"].size(), 1u);
  }
  EXPECT_EQ(small_receiver.posts().size(), 3u);
}

TEST(Notifier, ADeadReceiverCostsABoundedQueueAndTheDropsAreCountedAndReported) {
  auto ledger = ca::open_sqlite_ledger(":memory:");
  std::map<std::string, std::uint64_t> totals{{"wlc-1", 0}, {"wlc-2", 0}, {"wlc-3", 0}};
  NotifierSettings settings;
  settings.attempts = 2;
  settings.first_backoff = std::chrono::milliseconds(1);
  settings.reject_spike_per_minute = 5;
  settings.queue_limit = 4;
  constexpr int kRounds = 5;
  Receiver receiver(kRounds * settings.attempts);   // down for five rounds, then back
  settings.webhook_url = receiver.url();
  Notifier notifier(settings, *ledger, [&] { return totals; });
  for (int round = 0; round < kRounds; ++round) {
    for (auto& [nas, total] : totals) total += 10;   // a spike at every NAS
    notifier.check_spikes();
    EXPECT_FALSE(notifier.flush());
    EXPECT_LE(notifier.counters().queued, 4u);
  }
  EXPECT_EQ(notifier.counters().queued, 4u);
  EXPECT_EQ(notifier.counters().alerts_dropped, 3u * kRounds - 4u);
  EXPECT_EQ(notifier.counters().posts_failed, static_cast<std::uint64_t>(kRounds));
  EXPECT_EQ(receiver.posts().size(), static_cast<std::size_t>(kRounds * settings.attempts));
  // Back: the four queued alerts in one batch, which says how many were lost.
  EXPECT_TRUE(notifier.flush());
  const auto posts = receiver.posts();
  ASSERT_EQ(posts.back().first, 200);
  EXPECT_EQ(posts.back().second["alerts"].size(), 4u);
  EXPECT_EQ(posts.back().second["dropped"], 3 * kRounds - 4);
  EXPECT_EQ(notifier.counters().queued, 0u);
  EXPECT_EQ(notifier.counters().alerts_posted, 4u);
}

TEST(Notifier, RefusesUrlsItCannotPostTo) {
  auto ledger = ca::open_sqlite_ledger(":memory:");
  for (const char* url : {"ftp://example.net/", "http://", "http://host:0/", "http://host:99999/", "http://[::1/x",
                          "example.net/hook", "http://:8080/x", "http://user:pw@host/", "http://ho st/", "http://host:/",
                          "https://host/#frag", "http://?x=1"})
    EXPECT_THROW(Notifier(fast(url), *ledger, {}), std::invalid_argument) << url;
  EXPECT_NO_THROW(Notifier(fast("https://[::1]:8443/x?y=1"), *ledger, {}));
  EXPECT_NO_THROW(Notifier(fast("http://hooks.example.net"), *ledger, {}));
  EXPECT_EQ(parse_http_url("http://hooks.example.net?k=1").target, "/?k=1");
  EXPECT_EQ(parse_http_url("https://[::1]:8443/x").host, "::1");
}

}  // namespace
}  // namespace portcullis::app
