#include "app/mdm/webhook_source.hpp"

#include "app/http/client.hpp"
#include "ca/hex.hpp"
#include "ca/log_text.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace portcullis::app {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxReason = 200;

// What the endpoint says is shown to the requester's operator and logged: one line, short.
std::string short_text(const std::string& text) {
  std::string out = ca::log_safe(text);
  if (out.size() > kMaxReason) out = out.substr(0, kMaxReason) + "…";
  return out;
}


// {"allow": bool, "device": "…", "groups": ["…"], "reason": "…"}; anything else is not an
// answer (std::invalid_argument), so a receiver that breaks cannot allow by accident.
scep::ChallengeVerdict verdict_of(const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("allow") || !j["allow"].is_boolean())
    throw std::invalid_argument("the answer is not a JSON object with a boolean \"allow\"");
  auto text = [&j](const char* key) -> std::string {
    if (!j.contains(key) || j[key].is_null()) return {};
    if (!j[key].is_string()) throw std::invalid_argument(std::string("\"") + key + "\" is not a string");
    return j[key].get<std::string>();
  };
  if (!j["allow"].get<bool>()) {
    const std::string reason = text("reason");
    return scep::ChallengeVerdict::denied(reason.empty() ? "refused, no reason given" : short_text(reason));
  }
  std::vector<std::string> groups;
  if (j.contains("groups") && !j["groups"].is_null()) {
    if (!j["groups"].is_array()) throw std::invalid_argument("\"groups\" is not an array of strings");
    for (const auto& g : j["groups"]) {
      if (!g.is_string() || g.get<std::string>().empty() || ca::has_control_characters(g.get<std::string>()))
        throw std::invalid_argument("\"groups\" holds something that is not a group name");
      groups.push_back(g.get<std::string>());
    }
  }
  return scep::ChallengeVerdict::allowed(text("device"), std::move(groups));
}

std::string query_body(const scep::ChallengeQuery& q) {
  return nlohmann::json{{"challenge", q.challenge}, {"transaction_id", q.transaction_id}, {"csr", q.csr_pem},
                        {"subject", q.subject},     {"sans", q.sans},                     {"requester", q.requester}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string outcome_body(const scep::EnrollmentOutcome& o) {
  nlohmann::json j{{"outcome", o.outcome}, {"success", o.success}, {"transaction_id", o.transaction_id},
                   {"device", o.device},   {"decided_by", o.decided_by}};
  if (o.success) {
    j["serial"] = o.serial;
    j["fingerprint"] = o.fingerprint;
    j["certificate"] = o.certificate_pem;
  } else {
    j["reason"] = o.reason;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string webhook_signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len) == nullptr)
    throw std::runtime_error("HMAC-SHA256 failed");
  return "sha256=" + ca::to_lower_hex({mac, len});
}

WebhookSource::WebhookSource(WebhookSettings settings) : settings_(std::move(settings)), url_(parse_http_url(settings_.url)) {
  if (settings_.secret.empty()) throw std::invalid_argument("a webhook needs a secret to sign with");
  if (settings_.role == WebhookSettings::Role::notify) {
    DeliveryQueue<std::string>::Settings delivery{name(), settings_.notify_queue, settings_.notify_attempts,
                                                  settings_.first_backoff};
    queue_ = std::make_unique<DeliveryQueue<std::string>>(
        std::move(delivery), [this](const std::string& body, int n) { return try_deliver(body, n); });
  }
}

WebhookSource::~WebhookSource() {
  if (!queue_) return;
  if (const std::size_t left = queue_->stop(); left > 0)
    spdlog::warn("{}: {} notification(s) not sent at shutdown", name(), left);
}

WebhookSource::Answer WebhookSource::post(const std::string& body) const {
  HttpClientOptions options;
  options.host = url_.host;
  options.port = url_.port;
  options.tls = url_.tls;
  options.ca_file = settings_.ca_file;
  options.timeout = std::chrono::duration_cast<std::chrono::seconds>(settings_.timeout) + std::chrono::seconds(1);
  options.deadline = Clock::now() + settings_.timeout;
  options.peer = "webhook";
  HttpHeaders headers{{"Content-Type", "application/json"},
                      {"X-Portcullis-Signature", webhook_signature(settings_.secret, body)}};
  if (!settings_.bearer_token.empty()) headers.emplace_back("Authorization", "Bearer " + settings_.bearer_token);
  const HttpClientResponse response = http_request(options, "POST", url_.target, headers, body);
  return Answer{response.status, response.body};
}

scep::ChallengeVerdict WebhookSource::validate(const scep::ChallengeQuery& query) {
  if (settings_.role != WebhookSettings::Role::validate) return scep::ChallengeVerdict::none();
  const Clock::time_point start = Clock::now();
  try {
    const Answer answer = post(query_body(query));
    if (answer.status < 200 || answer.status > 299)
      return scep::ChallengeVerdict::failed("answered HTTP " + std::to_string(answer.status));
    return verdict_of(answer.body);
  } catch (const std::invalid_argument& e) {
    return scep::ChallengeVerdict::failed(std::string("bad answer: ") + e.what());
  } catch (const std::exception& e) {
    if (Clock::now() - start >= settings_.timeout)
      return scep::ChallengeVerdict::failed("no answer within " + std::to_string(settings_.timeout.count()) + " ms");
    return scep::ChallengeVerdict::failed(short_text(e.what()));
  }
}

void WebhookSource::notify(const scep::EnrollmentOutcome& outcome) {
  if (settings_.role != WebhookSettings::Role::notify) return;
  queue_->push(outcome_body(outcome));
}

bool WebhookSource::try_deliver(const std::string& body, int attempt) {
  std::string failure;
  try {
    const Answer answer = post(body);
    if (answer.status >= 200 && answer.status <= 299) return true;
    failure = "HTTP " + std::to_string(answer.status);
  } catch (const std::exception& e) {
    failure = short_text(e.what());
  }
  spdlog::warn("{}: notification attempt {}/{} failed: {}", name(), attempt, settings_.notify_attempts, failure);
  return false;
}

std::uint64_t WebhookSource::notifications_sent() const { return queue_ ? queue_->delivered() : 0; }

std::uint64_t WebhookSource::notifications_dropped() const { return queue_ ? queue_->dropped() : 0; }

}  // namespace portcullis::app
