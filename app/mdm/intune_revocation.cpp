#include "app/mdm/intune_revocation.hpp"

#include "ca/log_text.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <stdexcept>

namespace portcullis::app {
namespace {

constexpr const char* kConnectorService = "PkiConnectorFEService";
// The api-version the libraries send to the PKI connector service.
constexpr const char* kConnectorApiVersion = "5019-05-05";
constexpr const char* kActor = "intune";

// The serial as the ledger keeps it (uppercase hex of the magnitude); Intune hands back what
// successNotification told it, perhaps with separators or in lowercase. nullopt: not hex.
std::optional<std::string> ledger_serial(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == ':' || c == ' ' || c == '-') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  while (out.size() > 1 && out[0] == '0' && out[1] == '0') out.erase(0, 2);
  if (out.empty() || out.size() > 40) return std::nullopt;
  return out;
}

std::string text_of(const nlohmann::json& j, const char* camel, const char* pascal) {
  for (const char* key : {camel, pascal})
    if (j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return {};
}

void emit_revoked(ca::EventSink* events, const ca::CertificateRecord& cert, const std::string& device,
                  const std::string& context) {
  if (events == nullptr) return;
  ca::Event e;
  e.kind = ca::event_kind::kScep;
  e.outcome = "revoked";
  e.reason = "intune_revocation";
  e.detail = "revoked (cessationOfOperation) at Microsoft Intune's request " + ca::log_safe(context);
  e.serial = cert.serial_hex;
  e.device = device;
  events->emit(std::move(e));
}

}  // namespace

IntuneRevocationResult revoke_for_intune(const IntuneRevocationRequest& request, ca::Registry& registry,
                                         ca::EventSink* events, const IntuneRevocationScope& scope) {
  IntuneRevocationResult r{request.request_context, IntuneRevocationError::none, {}};
  const auto serial = ledger_serial(request.serial_number);
  if (!serial) {
    r.error = IntuneRevocationError::parameter_data_invalid;
    r.message = "the serial number is not hexadecimal";
    return r;
  }
  try {
    const auto cert = registry.ledger().find_certificate(*serial);
    if (!cert) {
      r.error = IntuneRevocationError::certificate_not_found;
      r.message = "no certificate of this CA has serial " + *serial;
      return r;
    }
    const auto holder = registry.ledger().find_device(cert->device_id);
    const bool in_groups =
        holder && std::any_of(scope.groups.begin(), scope.groups.end(), [&](const std::string& g) {
          return std::find(holder->groups.begin(), holder->groups.end(), g) != holder->groups.end();
        });
    if (cert->profile != scope.profile || !in_groups) {
      r.error = IntuneRevocationError::parameter_data_invalid;
      r.message = "certificate " + *serial + " was not issued through Intune (profile " + cert->profile +
                  "); not revoked";
      return r;
    }
    if (cert->revoked) {
      r.error = IntuneRevocationError::conflict;
      r.message = "certificate " + *serial + " is already revoked (" + ca::to_string(cert->revocation_reason) + ")";
      return r;
    }
    // Through the registry: the index, the CRL and the Disconnect-Request of its live
    // sessions follow, as for an operator's revocation.
    const auto outcome = registry.revoke(*serial, ca::RevocationReason::cessation_of_operation, ca::now_unix(), kActor);
    if (!outcome.changed) {
      r.error = IntuneRevocationError::conflict;
      r.message = "certificate " + *serial + " is already revoked";
      return r;
    }
    const std::string device = holder ? holder->name : std::string();
    spdlog::info("intune: certificate {} of device {} revoked at Intune's request", *serial, device);
    emit_revoked(events, *cert, device, request.request_context);
  } catch (const std::exception& e) {
    spdlog::error("intune: revoking {} at Intune's request failed: {}", *serial, e.what());
    r.error = IntuneRevocationError::retryable_service;
    r.message = "the CA's ledger failed; ask again";
  }
  return r;
}

IntuneRevocationSync::IntuneRevocationSync(std::shared_ptr<IntuneClient> client, ca::Registry& registry,
                                           ca::EventSink* events, IntuneRevocationSettings settings)
    : client_(std::move(client)), registry_(registry), events_(events), settings_(settings) {
  if (settings_.batch < 1 || settings_.batch > 500) throw std::invalid_argument("revocation batch must be 1..500");
  thread_ = std::thread([this] { run(); });
}

IntuneRevocationSync::~IntuneRevocationSync() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t IntuneRevocationSync::sync_once() {
  const nlohmann::json download{{"downloadParameters", {{"maxRequests", settings_.batch}, {"issuerName", nullptr}}}};
  const nlohmann::json answer = client_->post(kConnectorService, "CertificateAuthorityRequests/downloadRevocationRequests",
                                              kConnectorApiVersion, download, IntuneClock::now() + settings_.timeout);
  if (!answer.contains("value") || !answer["value"].is_array())
    throw std::runtime_error("downloadRevocationRequests answered no \"value\" list");
  nlohmann::json results = nlohmann::json::array();
  for (const auto& item : answer["value"]) {
    if (!item.is_object()) continue;
    IntuneRevocationRequest request{text_of(item, "requestContext", "RequestContext"),
                                    text_of(item, "serialNumber", "SerialNumber"),
                                    text_of(item, "issuerName", "IssuerName")};
    if (request.request_context.empty()) continue;   // nothing to answer it by
    const IntuneRevocationResult r = revoke_for_intune(request, registry_, events_, settings_.scope);
    nlohmann::json one{{"requestContext", r.request_context},
                       {"succeeded", r.error == IntuneRevocationError::none},
                       {"errorCode", std::string(to_string(r.error))},
                       {"errorMessage", r.message.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.message)}};
    results.push_back(std::move(one));
  }
  if (results.empty()) return 0;
  const nlohmann::json upload{{"results", results}};
  const nlohmann::json done = client_->post(kConnectorService, "CertificateAuthorityRequests/uploadRevocationResults",
                                            kConnectorApiVersion, upload, IntuneClock::now() + settings_.timeout);
  // The libraries read "value" as true, sent as a boolean or as the text "true".
  const bool accepted = done.contains("value") && ((done["value"].is_boolean() && done["value"].get<bool>()) ||
                                                   (done["value"].is_string() && done["value"].get<std::string>() == "true"));
  if (!accepted) throw std::runtime_error("uploadRevocationResults was not accepted");
  return results.size();
}

void IntuneRevocationSync::run() {
  for (;;) {
    try {
      const std::size_t answered = sync_once();
      if (answered > 0) spdlog::info("intune: answered {} revocation request(s)", answered);
    } catch (const std::exception& e) {
      spdlog::warn("intune: revocation sync failed: {}", ca::log_safe(e.what()));
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, settings_.interval, [this] { return stopping_; })) return;
  }
}

}  // namespace portcullis::app
