// The codes of Microsoft Intune's SCEP and CA-request contracts, as Microsoft's published
// client libraries define them (microsoft/Intune-Resource-Access, src/CsrValidation), and
// what Portcullis makes of them. No I/O.
#pragma once

#include "scep/challenge_source.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace portcullis::app {

// ScepActions/validateRequest's answer {"code", "errorDescription"}: allowed only for
// "Success". Every other documented code is a refusal whose reason names the code and
// what it means, with the failInfo (RFC 8894 §3.2.1.4) that fits; a code the contract
// does not list is a refusal as well (Unknown).
scep::ChallengeVerdict intune_validation_verdict(std::string_view code, std::string_view description);

// The codes validateRequest may answer besides "Success", in the contract's order.
const std::vector<std::string_view>& intune_validation_error_codes();

// failureNotification's hResult (a Windows HRESULT, [MS-ERREF] §2.1) for a refusal after
// Intune validated the request, by the refusal's term (the event's reason).
std::uint32_t intune_failure_hresult(std::string_view refusal_code);

// CertificateAuthorityRequests/uploadRevocationResults' errorCode per request.
enum class IntuneRevocationError {
  none,                        // 0: revoked
  parameter_data_invalid,      // 4002: the serial number is not one
  certificate_not_found,       // 4004: no certificate of ours has that serial
  conflict,                    // 4005: already revoked
  retryable_service,           // 4100: the ledger failed; Intune may ask again
};
// The name the contract serialises it as ("CertificateNotFoundError"), and its number.
std::string_view to_string(IntuneRevocationError error);
int number_of(IntuneRevocationError error);

}  // namespace portcullis::app
