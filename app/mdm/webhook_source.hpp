// [[scep.webhooks]]: a challenge source (scep/challenge_source.hpp) that asks an HTTP
// endpoint, or an endpoint told of every enrollment's outcome.
//  - validate: POST {challenge, transaction_id, csr, subject, sans, requester}; the answer
//    {"allow": bool, "device": "…", "groups": [...], "reason": "…"} decides. The SCEP worker
//    waits at most `timeout`; no answer in time, a non-2xx status or an answer that is not
//    that object is a refusal (ChallengeVerdict unavailable) with the reason.
//  - notify: POST {outcome, transaction_id, device, decided_by, serial, fingerprint,
//    certificate | reason} from a thread of its own, retried with exponential backoff;
//    the SCEP worker only queues it (a full queue drops the newest, logged).
// Both carry `X-Portcullis-Signature: sha256=<hex HMAC-SHA256(secret, body)>` and, when
// configured, `Authorization: Bearer <token>`. https is verified against ca_file and the
// host name (app/http/client has no way to turn that off).
#pragma once

#include "app/http/url.hpp"
#include "app/mdm/delivery_queue.hpp"
#include "scep/challenge_source.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace portcullis::app {

struct WebhookSettings {
  enum class Role { validate, notify };
  std::string url;
  Role role = Role::validate;
  std::string secret;                          // the HMAC key; never logged
  std::string bearer_token;                    // empty: no Authorization header; never logged
  std::chrono::milliseconds timeout{5000};     // a whole exchange
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";
  int notify_attempts = 5;
  std::chrono::milliseconds first_backoff{1000};   // doubled after each failed attempt
  std::size_t notify_queue = 1000;
};

// "sha256=" + lowercase hex HMAC-SHA256 of `body` under `secret`.
std::string webhook_signature(const std::string& secret, const std::string& body);

class WebhookSource : public scep::ChallengeSource {
 public:
  // std::invalid_argument for a URL it cannot use or an empty secret.
  explicit WebhookSource(WebhookSettings settings);
  ~WebhookSource() override;   // stops the notification thread; what is still queued is dropped, logged
  WebhookSource(const WebhookSource&) = delete;
  WebhookSource& operator=(const WebhookSource&) = delete;

  std::string name() const override { return "webhook " + settings_.url; }
  scep::ChallengeVerdict validate(const scep::ChallengeQuery& query) override;
  void notify(const scep::EnrollmentOutcome& outcome) override;

  std::uint64_t notifications_sent() const;
  std::uint64_t notifications_dropped() const;   // queue full, or every attempt failed

 private:
  struct Answer {
    int status = 0;
    std::string body;
  };
  Answer post(const std::string& body) const;   // throws std::runtime_error with the reason
  bool try_deliver(const std::string& body, int attempt);   // one POST; logs a failure

  WebhookSettings settings_;
  HttpUrl url_;
  // Notification bodies (notify role only); last, so that its thread, which posts through
  // the members above, is stopped first.
  std::unique_ptr<DeliveryQueue<std::string>> queue_;
};

}  // namespace portcullis::app
