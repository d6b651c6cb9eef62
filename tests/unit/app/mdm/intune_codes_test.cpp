// Intune's validateRequest codes, HRESULTs, revocation error codes and the SID SAN filter.
#include "app/mdm/intune_codes.hpp"
#include "app/mdm/intune_source.hpp"

#include <gtest/gtest.h>

namespace portcullis::app {
namespace {

using Kind = scep::ChallengeVerdict::Kind;

TEST(IntuneCodes, OnlySuccessAllows) {
  EXPECT_EQ(intune_validation_verdict("Success", "").kind, Kind::allow);
  EXPECT_EQ(intune_validation_verdict("success", "").kind, Kind::deny);   // the contract's spelling only
  EXPECT_EQ(intune_validation_verdict("", "").kind, Kind::deny);
}

TEST(IntuneCodes, EveryDocumentedCodeRefusesNamingItself) {
  ASSERT_EQ(intune_validation_error_codes().size(), 23u);
  for (const auto code : intune_validation_error_codes()) {
    const auto v = intune_validation_verdict(code, "from Intune");
    EXPECT_EQ(v.kind, Kind::deny) << code;
    EXPECT_EQ(v.reason.rfind(std::string(code) + ": ", 0), 0u) << v.reason;
    EXPECT_NE(v.reason.find("(from Intune)"), std::string::npos) << v.reason;
  }
  EXPECT_EQ(intune_validation_verdict("ChallengeExpired", "").fail_info, scep::FailInfo::bad_time);
  EXPECT_EQ(intune_validation_verdict("ChallengeInvalidTimestamp", "").fail_info, scep::FailInfo::bad_time);
  EXPECT_EQ(intune_validation_verdict("SignatureValidationFailed", "").fail_info, scep::FailInfo::bad_message_check);
  EXPECT_EQ(intune_validation_verdict("SubjectNameMismatch", "").fail_info, scep::FailInfo::bad_request);
}

TEST(IntuneCodes, AnUnknownCodeRefusesAndItsTextCannotForgeLogLines) {
  const auto v = intune_validation_verdict("Brand\nNew", "x\ny");
  EXPECT_EQ(v.kind, Kind::deny);
  EXPECT_EQ(v.reason.rfind("Unknown: ", 0), 0u);
  EXPECT_EQ(v.reason.find('\n'), std::string::npos);
}

TEST(IntuneCodes, HresultsAndRevocationErrors) {
  EXPECT_EQ(intune_failure_hresult("device_conflict"), 0x80094012u);
  EXPECT_EQ(intune_failure_hresult("source_confirmation_failed"), 0x80090020u);
  EXPECT_EQ(to_string(IntuneRevocationError::certificate_not_found), "CertificateNotFoundError");
  EXPECT_EQ(number_of(IntuneRevocationError::certificate_not_found), 4004);
  EXPECT_EQ(number_of(IntuneRevocationError::conflict), 4005);
  EXPECT_EQ(to_string(IntuneRevocationError::none), "None");
}

TEST(IntuneSidSans, OnlyWellFormedSidUrisAreKept) {
  const std::vector<std::string> sans{"dns:device.example", "uri:tag:microsoft.com,2022-09-14:sid:S-1-5-21-1-2-3-1001",
                                      "uri:tag:microsoft.com,2022-09-14:sid:S-1-5-21-1-2-3-1001-x",
                                      "uri:tag:microsoft.com,2022-09-14:sid:", "uri:https://example/sid:S-1-5-21-1"};
  EXPECT_EQ(intune_sid_sans(sans), std::vector<std::string>{sans[1]});
}

TEST(IntunePem, BodyIsTheBase64Der) {
  EXPECT_EQ(pem_body_base64("-----BEGIN CERTIFICATE REQUEST-----\r\nMIIB\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
            "MIIBAAAA");
}

}  // namespace
}  // namespace portcullis::app
