#include "app/mdm/intune_source.hpp"

#include "app/mdm/intune_codes.hpp"
#include "ca/log_text.hpp"
#include "ca/x509.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <regex>

namespace portcullis::app {
namespace {

constexpr const char* kValidationService = "ScepRequestValidationFEService";
// The api-version the libraries send to the validation service.
constexpr const char* kValidationApiVersion = "2018-02-20";
// failureNotification's errorDescription holds at most 255 characters.
constexpr std::size_t kMaxErrorDescription = 255;

std::string upper_hex(const unsigned char* md, unsigned int len) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(digits[md[i] >> 4]);
    out.push_back(digits[md[i] & 0xF]);
  }
  return out;
}

// The thumbprint Windows and Intune show: SHA-1 over the DER, uppercase hex.
std::string thumbprint(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha1(), md, &len) != 1) throw ca::OpenSslError("X509_digest");
  return upper_hex(md, len);
}

// ISO 8601 UTC with milliseconds, the form the libraries document for the expiry.
std::string iso8601(std::int64_t t) {
  std::tm tm{};
  const std::time_t tt = static_cast<std::time_t>(t);
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

std::string common_name(const X509_NAME* name) {
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return ca::name_to_string(name);
  return ca::utf8_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
}

std::string cut(std::string text, std::size_t max) {
  if (text.size() > max) text.resize(max);
  return text;
}

}  // namespace

std::string pem_body_base64(const std::string& pem) {
  std::string out;
  bool inside = false;
  std::size_t start = 0;
  while (start < pem.size()) {
    std::size_t end = pem.find('\n', start);
    if (end == std::string::npos) end = pem.size();
    std::string line = pem.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("-----BEGIN", 0) == 0)
      inside = true;
    else if (line.rfind("-----END", 0) == 0)
      break;
    else if (inside)
      out += line;
    start = end + 1;
  }
  return out;
}

std::vector<std::string> intune_sid_sans(const std::vector<std::string>& sans) {
  static const std::regex sid("S-1-[0-9]{1,14}(-[0-9]{1,10}){1,15}");
  const std::string prefix = std::string("uri:") + kIntuneSidUriPrefix;
  std::vector<std::string> out;
  for (const auto& san : sans)
    if (san.rfind(prefix, 0) == 0 && std::regex_match(san.substr(prefix.size()), sid)) out.push_back(san);
  return out;
}

IntuneSource::IntuneSource(std::shared_ptr<IntuneClient> client, IntuneSourceSettings settings)
    : client_(std::move(client)),
      settings_(std::move(settings)),
      queue_({"intune", settings_.notify_queue, settings_.notify_attempts, std::chrono::milliseconds(1000)},
             [this](const nlohmann::json& body, int n) { return try_failure_notification(body, n); }) {}

IntuneSource::~IntuneSource() {
  if (const std::size_t left = queue_.stop(); left > 0)
    spdlog::warn("intune: {} failure notification(s) not sent at shutdown", left);
}

std::pair<std::string, std::string> IntuneSource::scep_action(const std::string& action, const nlohmann::json& body) {
  const nlohmann::json answer = client_->post(kValidationService, "ScepActions/" + action, kValidationApiVersion, body,
                                              IntuneClock::now() + settings_.timeout);
  if (!answer.contains("code") || !answer["code"].is_string())
    throw std::runtime_error(action + " answered no \"code\"");
  std::string description;
  if (answer.contains("errorDescription") && answer["errorDescription"].is_string())
    description = answer["errorDescription"].get<std::string>();
  return {answer["code"].get<std::string>(), description};
}

scep::ChallengeVerdict IntuneSource::validate(const scep::ChallengeQuery& query) {
  const std::string csr = pem_body_base64(query.csr_pem);
  if (csr.empty() || query.transaction_id.empty()) return scep::ChallengeVerdict::failed("the request has no CSR or transaction id");
  const nlohmann::json body{{"request",
                             {{"transactionId", query.transaction_id},
                              {"certificateRequest", csr},
                              {"callerInfo", client_->settings().caller_info}}}};
  const auto start = IntuneClock::now();
  std::pair<std::string, std::string> answer;
  try {
    answer = scep_action("validateRequest", body);
  } catch (const std::exception& e) {
    const std::string why = IntuneClock::now() - start >= settings_.timeout
                                ? "no answer within " + std::to_string(settings_.timeout.count()) + " ms"
                                : ca::log_safe(e.what());
    spdlog::warn("intune: validateRequest for transaction {} failed: {}", ca::log_safe(query.transaction_id), why);
    return scep::ChallengeVerdict::failed(why);
  }
  scep::ChallengeVerdict verdict = intune_validation_verdict(answer.first, answer.second);
  if (verdict.kind != scep::ChallengeVerdict::Kind::allow) {
    spdlog::warn("intune: transaction {} refused: {}", ca::log_safe(query.transaction_id), verdict.reason);
    return verdict;
  }
  verdict.groups = settings_.groups;
  verdict.sans = intune_sid_sans(query.sans);
  spdlog::info("intune: transaction {} validated{}", ca::log_safe(query.transaction_id),
               verdict.sans.empty() ? "" : " (SID SAN carried into the certificate)");
  return verdict;
}

scep::Confirmation IntuneSource::confirm(const scep::EnrollmentOutcome& issued) {
  try {
    const ca::X509Ptr cert = ca::cert_from_pem(issued.certificate_pem);
    const nlohmann::json body{
        {"notification",
         {{"transactionId", issued.transaction_id},
          {"certificateRequest", pem_body_base64(issued.csr_pem)},
          {"certificateThumbprint", thumbprint(cert.get())},
          {"certificateSerialNumber", issued.serial},
          {"certificateExpirationDateUtc", iso8601(ca::not_after_unix(cert.get()))},
          {"issuingCertificateAuthority", ca::name_to_string(X509_get_issuer_name(cert.get()))},
          {"callerInfo", client_->settings().caller_info},
          {"caConfiguration", common_name(X509_get_issuer_name(cert.get()))},
          {"certificateAuthority", common_name(X509_get_issuer_name(cert.get()))}}}};
    const auto [code, description] = scep_action("successNotification", body);
    if (code == "Success") {
      spdlog::info("intune: told of certificate {} (transaction {})", issued.serial, issued.transaction_id);
      return {};
    }
    return {false, "successNotification answered " + ca::log_safe(code) +
                       (description.empty() ? "" : " (" + cut(ca::log_safe(description), 200) + ")")};
  } catch (const std::exception& e) {
    return {false, "successNotification failed: " + ca::log_safe(e.what())};
  }
}

// Refusals Intune made itself (it knows) and those of requests another source decided are
// not Intune's to hear.
void IntuneSource::notify(const scep::EnrollmentOutcome& outcome) {
  if (outcome.success || outcome.decided_by != name() || outcome.csr_pem.empty()) return;
  if (outcome.code == "challenge_denied" || outcome.code == "challenge_source_unavailable") return;
  const std::uint32_t hresult = intune_failure_hresult(outcome.code);
  nlohmann::json body{{"notification",
                       {{"transactionId", outcome.transaction_id},
                        {"certificateRequest", pem_body_base64(outcome.csr_pem)},
                        {"hResult", static_cast<std::int64_t>(hresult)},
                        {"errorDescription", cut(outcome.code + ": " + outcome.reason, kMaxErrorDescription)},
                        {"callerInfo", client_->settings().caller_info}}}};
  queue_.push(std::move(body));
}

bool IntuneSource::try_failure_notification(const nlohmann::json& body, int attempt) {
  const std::string transaction = body["notification"]["transactionId"].get<std::string>();
  try {
    const auto [code, description] = scep_action("failureNotification", body);
    if (code != "Success")
      spdlog::warn("intune: failureNotification for transaction {} answered {}", transaction, ca::log_safe(code));
    else
      spdlog::info("intune: told of the refusal of transaction {}", transaction);
    return true;
  } catch (const std::exception& e) {
    spdlog::warn("intune: failureNotification for transaction {} attempt {}/{} failed: {}", transaction, attempt,
                 settings_.notify_attempts, ca::log_safe(e.what()));
    return false;
  }
}

}  // namespace portcullis::app
