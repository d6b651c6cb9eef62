#include "app/mdm/intune_codes.hpp"

#include "ca/log_text.hpp"

#include <array>

namespace portcullis::app {
namespace {

struct ValidationCode {
  std::string_view code;
  scep::FailInfo fail_info;
  std::string_view meaning;
};

// RFC 8894 §3.2.1.4: badTime when the challenge's time is wrong, badMessageCheck when a
// signature does not verify, badRequest for everything else Intune refuses.
constexpr std::array<ValidationCode, 23> kCodes{{
    {"CertificateRequestDecodingFailed", scep::FailInfo::bad_request, "Intune could not decode the CSR"},
    {"ChallengePasswordMissing", scep::FailInfo::bad_request, "the CSR has no challenge password"},
    {"ChallengeDeserializationError", scep::FailInfo::bad_request, "the challenge is not one Intune issued"},
    {"ChallengeDecryptionError", scep::FailInfo::bad_request, "Intune could not decrypt the challenge"},
    {"ChallengeDecodingError", scep::FailInfo::bad_request, "Intune could not decode the challenge"},
    {"ChallengeInvalidTimestamp", scep::FailInfo::bad_time, "the challenge's timestamp is not valid"},
    {"ChallengeExpired", scep::FailInfo::bad_time, "the challenge expired"},
    {"SubjectNameMissing", scep::FailInfo::bad_request, "the CSR lacks the subject name the profile asks for"},
    {"SubjectNameMismatch", scep::FailInfo::bad_request, "the CSR's subject name differs from the profile's"},
    {"SubjectAltNameMissing", scep::FailInfo::bad_request, "the CSR lacks the SANs the profile asks for"},
    {"SubjectAltNameMismatch", scep::FailInfo::bad_request, "the CSR's SANs differ from the profile's"},
    {"KeyUsageMismatch", scep::FailInfo::bad_request, "the CSR's key usage differs from the profile's"},
    {"KeyLengthMismatch", scep::FailInfo::bad_request, "the CSR's key length differs from the profile's"},
    {"EnhancedKeyUsageMissing", scep::FailInfo::bad_request, "the CSR lacks the profile's extended key usage"},
    {"EnhancedKeyUsageMismatch", scep::FailInfo::bad_request, "the CSR's extended key usage differs from the profile's"},
    {"AadKeyIdentifierListMissing", scep::FailInfo::bad_request, "the request lacks the Entra ID key identifier list"},
    {"RegisteredKeyMismatch", scep::FailInfo::bad_request, "the CSR's key is not the device's registered key"},
    {"SigningCertThumbprintMismatch", scep::FailInfo::bad_message_check,
     "the request was signed by another certificate than Intune expects"},
    {"ScepProfileNoLongerTargetedToTheClient", scep::FailInfo::bad_request,
     "the SCEP profile is no longer assigned to the device"},
    {"SignatureValidationFailed", scep::FailInfo::bad_message_check, "a signature did not verify"},
    {"BadCertificateRequestIdInChallenge", scep::FailInfo::bad_request, "the challenge names another request"},
    {"BadDeviceIdInChallenge", scep::FailInfo::bad_request, "the challenge names another device"},
    {"BadUserIdInChallenge", scep::FailInfo::bad_request, "the challenge names another user"},
}};

constexpr std::size_t kMaxDescription = 200;

}  // namespace

scep::ChallengeVerdict intune_validation_verdict(std::string_view code, std::string_view description) {
  if (code == "Success") return scep::ChallengeVerdict::allowed({}, {});
  std::string said = ca::log_safe(std::string(description));
  if (said.size() > kMaxDescription) said = said.substr(0, kMaxDescription) + "…";
  const std::string tail = said.empty() ? std::string() : " (" + said + ")";
  for (const auto& known : kCodes)
    if (known.code == code)
      return scep::ChallengeVerdict::denied(std::string(known.code) + ": " + std::string(known.meaning) + tail,
                                            known.fail_info);
  return scep::ChallengeVerdict::denied("Unknown: code \"" + ca::log_safe(std::string(code)) +
                                        "\" is not one of the contract's" + tail);
}

const std::vector<std::string_view>& intune_validation_error_codes() {
  static const std::vector<std::string_view> codes = [] {
    std::vector<std::string_view> out;
    for (const auto& c : kCodes) out.push_back(c.code);
    return out;
  }();
  return codes;
}

std::uint32_t intune_failure_hresult(std::string_view refusal_code) {
  // [MS-ERREF] §2.1.1: CERTSRV_E_TEMPLATE_DENIED when the CA's policy refuses the request
  // (the profile, the device), NTE_FAIL when the CA failed or withdrew the certificate.
  constexpr std::uint32_t kTemplateDenied = 0x80094012;
  constexpr std::uint32_t kInternalFailure = 0x80090020;
  static constexpr std::array<std::string_view, 9> kPolicy{
      "issuance_refused", "device_conflict", "device_disabled", "device_missing", "challenge_device_exists",
      "cn_missing",       "cn_invalid",      "challenge_refused", "rejected_by_operator"};
  for (const auto& p : kPolicy)
    if (p == refusal_code) return kTemplateDenied;
  return kInternalFailure;
}

std::string_view to_string(IntuneRevocationError error) {
  switch (error) {
    case IntuneRevocationError::none: return "None";
    case IntuneRevocationError::parameter_data_invalid: return "ParameterDataInvalidError";
    case IntuneRevocationError::certificate_not_found: return "CertificateNotFoundError";
    case IntuneRevocationError::conflict: return "ConflictError";
    case IntuneRevocationError::retryable_service: return "RetryableServiceException";
  }
  return "NonRetryableServiceException";
}

int number_of(IntuneRevocationError error) {
  switch (error) {
    case IntuneRevocationError::none: return 0;
    case IntuneRevocationError::parameter_data_invalid: return 4002;
    case IntuneRevocationError::certificate_not_found: return 4004;
    case IntuneRevocationError::conflict: return 4005;
    case IntuneRevocationError::retryable_service: return 4100;
  }
  return 4000;
}

}  // namespace portcullis::app
