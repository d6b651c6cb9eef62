#include "app/mdm/sources.hpp"

#include "app/mdm/intune_source.hpp"
#include "app/mdm/webhook_source.hpp"
#include "ca/x509.hpp"

#include <stdexcept>

namespace portcullis::app {

std::string read_secret_file(const std::string& path, const std::string& what) {
  std::string text;
  try {
    text = ca::read_file(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(what + ": cannot read " + path + ": " + e.what());
  }
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw std::runtime_error(what + ": " + path + " is empty");
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

namespace {

std::shared_ptr<IntuneClient> intune_client(const IntuneConfig& intune) {
  IntuneSettings s;
  s.tenant = intune.tenant;
  s.client_id = intune.client_id;
  if (!intune.client_secret_file.empty())
    s.client_secret = read_secret_file(intune.client_secret_file, "mdm.intune.client_secret_file");
  if (!intune.client_certificate_file.empty()) {
    s.certificate_pem = read_secret_file(intune.client_certificate_file, "mdm.intune.client_certificate_file");
    s.key_pem = read_secret_file(intune.client_key_file, "mdm.intune.client_key_file");
  }
  s.login_url = intune.login_url;
  s.graph_url = intune.graph_url;
  s.ca_file = intune.ca_file;
  s.caller_info = intune.caller_info;
  return std::make_shared<IntuneClient>(std::move(s));
}

}  // namespace

std::vector<std::shared_ptr<scep::ChallengeSource>> challenge_sources(const Config& config) {
  std::vector<std::shared_ptr<scep::ChallengeSource>> sources;
  for (std::size_t i = 0; i < config.scep.webhooks.size(); ++i) {
    const ScepWebhookSetting& hook = config.scep.webhooks[i];
    const std::string what = "scep.webhooks[" + std::to_string(i) + "]";
    WebhookSettings s;
    s.url = hook.url;
    s.role = hook.role == "notify" ? WebhookSettings::Role::notify : WebhookSettings::Role::validate;
    s.secret = read_secret_file(hook.secret_file, what + ".secret_file");
    if (!hook.bearer_token_file.empty()) s.bearer_token = read_secret_file(hook.bearer_token_file, what + ".bearer_token_file");
    s.timeout = std::chrono::milliseconds(hook.timeout_ms);
    s.ca_file = hook.ca_file;
    s.notify_attempts = hook.notify_attempts;
    sources.push_back(std::make_shared<WebhookSource>(std::move(s)));
  }
  if (config.mdm.intune.enabled) {
    IntuneSourceSettings s;
    s.timeout = std::chrono::milliseconds(config.mdm.intune.timeout_ms);
    s.groups = config.mdm.intune.groups;
    sources.push_back(std::make_shared<IntuneSource>(intune_client(config.mdm.intune), std::move(s)));
  }
  return sources;
}

std::unique_ptr<IntuneRevocationSync> intune_revocation_sync(const Config& config, ca::Registry& registry,
                                                             ca::EventSink* events) {
  const IntuneConfig& intune = config.mdm.intune;
  if (!intune.enabled || intune.revocation_sync_seconds == 0) return nullptr;
  IntuneRevocationSettings s;
  s.interval = std::chrono::seconds(intune.revocation_sync_seconds);
  s.batch = intune.revocation_batch;
  s.timeout = std::chrono::milliseconds(intune.timeout_ms);
  s.scope = {config.scep.profile, intune.groups};
  return std::make_unique<IntuneRevocationSync>(intune_client(intune), registry, events, s);
}

std::unique_ptr<JamfChallengeEndpoint> jamf_endpoint(const Config& config, ca::Registry& registry) {
  const JamfConfig& jamf = config.mdm.jamf;
  if (!jamf.enabled) return nullptr;
  JamfSettings s;
  s.user = jamf.user;
  s.password = read_secret_file(jamf.password_file, "mdm.jamf.password_file");
  s.challenge_ttl_seconds = jamf.challenge_ttl_seconds;
  s.profile = config.profiles.at(jamf.profile.empty() ? config.scep.profile : jamf.profile);
  return std::make_unique<JamfChallengeEndpoint>(std::move(s), registry);
}

}  // namespace portcullis::app
