// The ledger side of SCEP: challenges stored hashed, redeemed in the same transaction as
// the certificate row, transactions recorded once (schema v3).
#include "scep_test_client.hpp"

namespace portcullis::scep::testing {
namespace {

using ScepLedger = ScepFixture;

ca::CertificateRecord record_for(const std::string& serial, const std::string& fingerprint) {
  ca::CertificateRecord r;
  r.serial_hex = serial;
  r.profile = "device";
  r.subject = "CN=x";
  r.sha256_fingerprint = fingerprint;
  r.not_before = 1;
  r.not_after = 4'000'000'000;
  r.der = {0x30, 0x00};
  return r;
}

TEST_F(ScepLedger, MintedChallengeIsStoredHashedAndBoundToItsDevice) {
  const auto minted = mint_challenge(*registry_, "tablet", ca::default_profiles().at("device"), std::string("tablet"), {}, 600, "api:admin");
  EXPECT_EQ(minted.record.secret_hash, challenge_hash(minted.secret));
  EXPECT_FALSE(ledger_->find_challenge(challenge_hash("something else")));
  const auto stored = ledger_->find_challenge(minted.record.secret_hash);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->device_name, "tablet");
  EXPECT_EQ(stored->cn, std::optional<std::string>("tablet"));
  EXPECT_EQ(stored->created_by, "api:admin");
  EXPECT_FALSE(stored->used_at);
  // The device is known to the running index too (created through the registry).
  EXPECT_TRUE(ledger_->find_device_by_name("tablet"));
  const auto audit = ledger_->audit({std::string("tablet"), std::string("challenge.mint"), 10});
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].detail.find(minted.secret), std::string::npos);
  EXPECT_THROW(mint_challenge(*registry_, "tablet", ca::default_profiles().at("device"), std::nullopt, {}, 0, "t"), std::invalid_argument);
  EXPECT_THROW(mint_challenge(*registry_, "", ca::default_profiles().at("device"), std::nullopt, {}, 60, "t"), std::invalid_argument);
  EXPECT_THROW(mint_challenge(*registry_, "tablet", ca::default_profiles().at("device"), std::nullopt, {"dns:bad name"}, 60, "t"), std::invalid_argument);
}

TEST_F(ScepLedger, RefusedRedemptionLeavesNoCertificateBehind) {
  const auto minted = mint_challenge(*registry_, "dev-a", ca::default_profiles().at("device"), std::nullopt, {}, 600, "t");
  ca::DeviceRef ref;
  ref.id = minted.record.device_id;
  ref.redeem_challenge_hash = minted.record.secret_hash;
  ledger_->record_issuance(ref, record_for("0A", std::string(64, 'A')), "scep");
  EXPECT_TRUE(ledger_->find_challenge(minted.record.secret_hash)->used_at);
  // Second redemption: refused, and the certificate row of that attempt is rolled back.
  EXPECT_THROW(ledger_->record_issuance(ref, record_for("0B", std::string(64, 'B')), "scep"), ca::ChallengeRefused);
  EXPECT_FALSE(ledger_->find_certificate("0B"));
  // A challenge redeemed for another device than its own: refused as well.
  const auto other = mint_challenge(*registry_, "dev-b", ca::default_profiles().at("device"), std::nullopt, {}, 600, "t");
  ref.redeem_challenge_hash = other.record.secret_hash;
  EXPECT_THROW(ledger_->record_issuance(ref, record_for("0C", std::string(64, 'C')), "scep"), ca::ChallengeRefused);
  EXPECT_FALSE(ledger_->find_certificate("0C"));
  EXPECT_FALSE(ledger_->find_challenge(other.record.secret_hash)->used_at);
  EXPECT_EQ(certificate_count(), 1u);
}

TEST_F(ScepLedger, TransactionIsRecordedOnceWithItsCertificate) {
  registry_->create_device({"dev-t", "", "", {}}, "t");
  ca::DeviceRef ref;
  ref.name = "dev-t";
  ref.scep_transaction = ca::ScepTransactionKey{"tx-9", std::string(64, 'f')};
  ledger_->record_issuance(ref, record_for("1A", std::string(64, 'D')), "scep");
  EXPECT_EQ(ledger_->find_scep_transaction({"tx-9", std::string(64, 'f')}), std::optional<std::string>("1A"));
  EXPECT_FALSE(ledger_->find_scep_transaction({"tx-9", std::string(64, 'e')}));
  EXPECT_THROW(ledger_->record_issuance(ref, record_for("1B", std::string(64, 'E')), "scep"), ca::DuplicateTransaction);
  EXPECT_FALSE(ledger_->find_certificate("1B"));
  EXPECT_EQ(certificate_count(), 1u);
}

}  // namespace
}  // namespace portcullis::scep::testing
