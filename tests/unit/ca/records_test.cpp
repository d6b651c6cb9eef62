#include "ca/records.hpp"

#include <gtest/gtest.h>

namespace portcullis::ca {
namespace {

const RevocationReason kAll[] = {
    RevocationReason::unspecified,         RevocationReason::key_compromise,   RevocationReason::ca_compromise,
    RevocationReason::affiliation_changed, RevocationReason::superseded,       RevocationReason::cessation_of_operation,
    RevocationReason::certificate_hold,    RevocationReason::privilege_withdrawn, RevocationReason::aa_compromise,
};

TEST(RevocationReason, RfcNamesRoundTrip) {
  for (RevocationReason r : kAll) {
    EXPECT_EQ(parse_revocation_reason(to_string(r)), r) << to_string(r);
  }
  EXPECT_EQ(to_string(RevocationReason::key_compromise), "keyCompromise");
  EXPECT_EQ(to_string(RevocationReason::ca_compromise), "cACompromise");
  EXPECT_EQ(to_string(RevocationReason::aa_compromise), "aACompromise");
  EXPECT_EQ(to_string(RevocationReason::cessation_of_operation), "cessationOfOperation");
}

TEST(RevocationReason, AcceptsSnakeCaseAndCaseVariants) {
  EXPECT_EQ(parse_revocation_reason("key_compromise"), RevocationReason::key_compromise);
  EXPECT_EQ(parse_revocation_reason("ca_compromise"), RevocationReason::ca_compromise);
  EXPECT_EQ(parse_revocation_reason("privilege_withdrawn"), RevocationReason::privilege_withdrawn);
  EXPECT_EQ(parse_revocation_reason("cessation_of_operation"), RevocationReason::cessation_of_operation);
  EXPECT_EQ(parse_revocation_reason("KEYCOMPROMISE"), RevocationReason::key_compromise);
  EXPECT_EQ(parse_revocation_reason("key-compromise"), RevocationReason::key_compromise);
  EXPECT_EQ(parse_revocation_reason("superseded"), RevocationReason::superseded);
}

TEST(RevocationReason, AcceptsRfcNumbers) {
  for (RevocationReason r : kAll) {
    EXPECT_EQ(parse_revocation_reason(std::to_string(static_cast<int>(r))), r);
  }
}

TEST(RevocationReason, RejectsUnknownInput) {
  EXPECT_FALSE(parse_revocation_reason(""));
  EXPECT_FALSE(parse_revocation_reason("7"));   // unused in RFC 5280
  EXPECT_FALSE(parse_revocation_reason("8"));   // removeFromCRL: delta CRLs only
  EXPECT_FALSE(parse_revocation_reason("11"));
  EXPECT_FALSE(parse_revocation_reason("1x"));
  EXPECT_FALSE(parse_revocation_reason("-1"));
  EXPECT_FALSE(parse_revocation_reason("compromised"));
  EXPECT_FALSE(parse_revocation_reason("keyCompromise; DROP TABLE certificates"));
}

}  // namespace
}  // namespace portcullis::ca
