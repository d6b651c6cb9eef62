// The Asio dynamic authorization client against a NAS stand-in on loopback: ACK, NAK with
// Error-Cause, retransmissions with backoff then timeout, forged answers ignored, and more
// requests to one NAS than there are RADIUS Identifiers.
#include "nas_stand_in.hpp"
#include "radius/dynauth_client.hpp"

#include <boost/asio/ip/udp.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

namespace portcullis::radius {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
using namespace std::chrono_literals;

const std::string kSecret = "nas-coa-secret";

using testing::NasStandIn;
using testing::reply_to;

DynauthRequest request_to(std::uint16_t port, const std::string& session) {
  DynauthRequest r;
  r.target.nas_name = "stand-in";
  r.target.address = IpAddress::parse("127.0.0.1").value();
  r.target.port = port;
  r.target.secret = kSecret;
  r.target.nas_identifier = "stand-in";
  r.target.acct_session_id = session;
  return r;
}

// Runs an io_context on two threads and collects completions.
struct Harness {
  explicit Harness(DynauthClientOptions options = {}) {
    client = DynauthClient::create(io, options);
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~Harness() {
    client->stop();
    work.reset();
    for (auto& t : threads) t.join();
  }
  void send(DynauthRequest r) {
    client->send(std::move(r), [this](const DynauthRequest& req, const DynauthResult& res) {
      std::lock_guard lock(mutex);
      results.emplace_back(req.target.acct_session_id, res);
      cv.notify_all();
    });
  }
  std::vector<std::pair<std::string, DynauthResult>> wait_for(std::size_t n, std::chrono::seconds limit = 20s) {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, limit, [&] { return results.size() >= n; });
    return results;
  }
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{asio::make_work_guard(io)};
  std::shared_ptr<DynauthClient> client;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<std::string, DynauthResult>> results;
};

TEST(DynauthClient, AckAndNakWithErrorCause) {
  NasStandIn nas([](const Bytes& req) -> std::optional<Bytes> {
    auto p = parse(req);
    const Attribute* s = p->find(attr::AcctSessionId);
    const bool known = s != nullptr && std::string(s->value.begin(), s->value.end()) == "live";
    return known ? reply_to(req, Code::DisconnectAck, kSecret) : reply_to(req, Code::DisconnectNak, kSecret, 503);
  });
  Harness h;
  h.send(request_to(nas.port(), "live"));
  h.send(request_to(nas.port(), "gone"));
  const auto results = h.wait_for(2);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& [session, result] : results) {
    EXPECT_EQ(result.attempts, 1);
    if (session == "live") {
      EXPECT_EQ(result.outcome, DynauthOutcome::ack);
      EXPECT_FALSE(result.error_cause);
    } else {
      EXPECT_EQ(result.outcome, DynauthOutcome::nak);
      EXPECT_EQ(result.error_cause, 503u);
    }
  }
  // The NAS saw authentic requests.
  for (const Bytes& req : nas.received()) {
    EXPECT_TRUE(verify_request_authenticator(req, kSecret));
    EXPECT_EQ(check_message_authenticator(req, kSecret), MessageAuthenticatorStatus::Valid);
  }
  EXPECT_EQ(h.client->stats().acks, 1u);
  EXPECT_EQ(h.client->stats().naks, 1u);
  // By kind, for the metrics' portcullis_dynauth_total{kind,result}.
  const DynauthClientStats stats = h.client->stats();
  const auto& disconnect = stats.completed[static_cast<std::size_t>(DynauthKind::disconnect)];
  EXPECT_EQ(disconnect[static_cast<std::size_t>(DynauthOutcome::ack)], 1u);
  EXPECT_EQ(disconnect[static_cast<std::size_t>(DynauthOutcome::nak)], 1u);
  EXPECT_EQ(disconnect[static_cast<std::size_t>(DynauthOutcome::timeout)], 0u);
  for (auto n : stats.completed[static_cast<std::size_t>(DynauthKind::coa)]) EXPECT_EQ(n, 0u);
}

TEST(DynauthClient, RetransmitsWithBackoffThenTimesOut) {
  NasStandIn nas([](const Bytes&) { return std::nullopt; });  // a NAS that never answers
  DynauthClientOptions options;
  options.attempts = 3;
  options.initial_timeout = 100ms;
  Harness h(options);
  const auto t0 = std::chrono::steady_clock::now();
  h.send(request_to(nas.port(), "s1"));
  const auto results = h.wait_for(1);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].second.outcome, DynauthOutcome::timeout);
  EXPECT_EQ(results[0].second.attempts, 3);
  // 100 + 200 + 400 ms of waiting: the doubling is there.
  EXPECT_GE(took, 700ms);
  const auto received = nas.received();
  ASSERT_EQ(received.size(), 3u);
  // A retransmission is the same request again (RFC 5080 §2.2.1).
  EXPECT_EQ(received[0], received[1]);
  EXPECT_EQ(received[1], received[2]);
}

TEST(DynauthClient, ForgedOrMismatchedAnswersAreIgnored) {
  std::atomic<int> seen{0};
  NasStandIn nas([&](const Bytes& req) -> std::optional<Bytes> {
    // First transmission: answered with the wrong secret; the retransmission: properly.
    return seen++ == 0 ? reply_to(req, Code::DisconnectAck, "not-the-secret") : reply_to(req, Code::DisconnectAck, kSecret);
  });
  DynauthClientOptions options;
  options.initial_timeout = 100ms;
  Harness h(options);
  h.send(request_to(nas.port(), "s1"));
  const auto results = h.wait_for(1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].second.outcome, DynauthOutcome::ack);
  EXPECT_EQ(results[0].second.attempts, 2);
  EXPECT_EQ(h.client->stats().ignored, 1u);
}

TEST(DynauthClient, MoreRequestsToOneNasThanIdentifiers) {
  std::mutex ids_mutex;
  std::set<std::string> sessions;
  NasStandIn nas([&](const Bytes& req) -> std::optional<Bytes> {
    auto p = parse(req);
    const Attribute* s = p->find(attr::AcctSessionId);
    std::lock_guard lock(ids_mutex);
    sessions.insert(std::string(s->value.begin(), s->value.end()));
    return reply_to(req, Code::DisconnectAck, kSecret);
  });
  Harness h;
  constexpr int kCount = 600;  // > 256: the rest wait for a free Identifier
  for (int i = 0; i < kCount; ++i) h.send(request_to(nas.port(), "s" + std::to_string(i)));
  const auto results = h.wait_for(kCount);
  ASSERT_EQ(results.size(), static_cast<std::size_t>(kCount));
  for (const auto& [session, result] : results) EXPECT_EQ(result.outcome, DynauthOutcome::ack) << session;
  std::lock_guard lock(ids_mutex);
  EXPECT_EQ(sessions.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(h.client->stats().in_flight, 0u);
}

TEST(DynauthClient, RefusesARequestWithoutSession) {
  Harness h;
  DynauthRequest r = request_to(3799, "");
  EXPECT_THROW(h.client->send(r, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace portcullis::radius
