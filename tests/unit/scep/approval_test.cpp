// Manual approval (RFC 8894 §3.3.2 PENDING, §3.3.3 CertPoll) end to end in memory: real
// CMS requests, real CA, real SQLite ledger, a "device" profile with manual_approval.
#include "scep_test_client.hpp"

#include "scep/approval.hpp"

#include <openssl/err.h>

namespace portcullis::scep::testing {
namespace {

class ScepApproval : public ScepFixture {
 protected:
  void SetUp() override {
    ScepFixture::SetUp();
    enrollment_.reset();
    ca::Profiles profiles = ca::default_profiles();
    profiles.at("device").manual_approval = true;
    issuer_ = std::make_unique<ca::Issuer>(*authority_, profiles, ca::IssuerUrls{kCrlUrl, kOcspUrl}, *registry_);
    EnrollmentSettings settings;
    settings.static_challenge = kStatic;
    enrollment_ = std::make_unique<Enrollment>(*authority_, *issuer_, *registry_, settings);
  }

  Reply poll(const Requester& who, const std::string& transaction_id) {
    RequestOptions o;
    o.message_type = "20";
    o.transaction_id = transaction_id;
    return send(make_request(ca::Bytes{0x30, 0x00}, who.cert.get(), who.key.get(), authority_->ra(), o), who);
  }
  Reply enroll(const Requester& who, const std::string& cn, const std::string& challenge, const std::string& tx) {
    RequestOptions o;
    o.transaction_id = tx;
    return send(pkcs_req(who, cn, challenge, o), who);
  }
  std::vector<ca::ScepRequestRecord> requests(const std::string& status = {}) {
    return ledger_->list_scep_requests(status, 100);
  }
};

TEST_F(ScepApproval, PendingUntilApprovedThenThePollCollectsACertificateThatVerifies) {
  auto who = requester("held-1");
  const Reply first = enroll(who, "held-1", kStatic, "tx-held");
  EXPECT_EQ(first.pki_status, "3");
  EXPECT_EQ(first.transaction_id, "tx-held");
  EXPECT_TRUE(first.certificates.empty());
  EXPECT_EQ(poll(who, "tx-held").pki_status, "3");
  EXPECT_EQ(certificate_count(), 0u);
  EXPECT_FALSE(ledger_->find_device_by_name("held-1"));   // created at approval, not before

  const auto pending = requests("pending");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].device_name, "held-1");
  EXPECT_EQ(pending[0].profile, "device");
  EXPECT_EQ(pending[0].subject, "CN=held-1");
  EXPECT_EQ(enrollment_->counters().pending, 2u);

  const Approval approval = approve_request(*issuer_, *ledger_, pending[0].id, "api:operator");
  EXPECT_EQ(approval.request.status, "approved");
  EXPECT_EQ(approval.request.decided_by, "api:operator");
  ASSERT_TRUE(approval.request.serial);

  const Reply collected = poll(who, "tx-held");
  ASSERT_EQ(collected.pki_status, "0") << collected.fail_info;
  ASSERT_EQ(collected.certificates.size(), 1u);
  EXPECT_EQ(verify(collected.certificates[0].get(), *authority_), "ok");
  EXPECT_EQ(ca::serial_hex(collected.certificates[0].get()), *approval.request.serial);
  const auto record = ledger_->find_certificate(*approval.request.serial);
  ASSERT_TRUE(record);
  EXPECT_EQ(ledger_->find_device(record->device_id)->name, "held-1");
  EXPECT_TRUE(requests("pending").empty());

  ca::AuditFilter filter;
  filter.action = "scep.approve";
  const auto audit = ledger_->audit(filter);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "api:operator");
  // A second approval is refused and issues nothing.
  EXPECT_THROW(approve_request(*issuer_, *ledger_, pending[0].id, "api:operator"), ca::LedgerConflict);
  EXPECT_EQ(certificate_count(), 1u);
}

TEST_F(ScepApproval, RejectedRequestPollGetsBadRequest) {
  auto who = requester("held-2");
  ASSERT_EQ(enroll(who, "held-2", kStatic, "tx-no").pki_status, "3");
  const auto pending = requests("pending");
  ASSERT_EQ(pending.size(), 1u);
  const ca::ScepRequestRecord rejected = reject_request(*ledger_, pending[0].id, "not ours", "api:operator");
  EXPECT_EQ(rejected.status, "rejected");
  EXPECT_EQ(rejected.reason, "not ours");

  const Reply r = poll(who, "tx-no");
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "2");   // badRequest
  EXPECT_TRUE(r.certificates.empty());
  // A retransmitted PKCSReq gets the same answer.
  EXPECT_EQ(enroll(who, "held-2", kStatic, "tx-no").fail_info, "2");
  EXPECT_THROW(approve_request(*issuer_, *ledger_, pending[0].id, "api:operator"), ca::LedgerConflict);
  EXPECT_THROW(reject_request(*ledger_, pending[0].id, "", "api:operator"), ca::LedgerConflict);
  EXPECT_THROW(reject_request(*ledger_, 9999, "", "api:operator"), ca::LedgerNotFound);
  EXPECT_EQ(certificate_count(), 0u);
  ca::AuditFilter filter;
  filter.action = "scep.reject";
  filter.target = "held-2";
  EXPECT_FALSE(ledger_->audit(filter).empty());
}

TEST_F(ScepApproval, RetransmittedPkcsReqWhilePendingIsPendingWithoutASecondRequest) {
  auto who = requester("held-3");
  EXPECT_EQ(enroll(who, "held-3", kStatic, "tx-again").pki_status, "3");
  EXPECT_EQ(enroll(who, "held-3", kStatic, "tx-again").pki_status, "3");
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(ScepApproval, PollForAnUnknownTransactionStaysBadCertId) {
  auto who = requester("nobody");
  const Reply r = poll(who, "never-seen");
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "4");
}

TEST_F(ScepApproval, OneTimeChallengeIsConsumedWhenTheRequestIsHeld) {
  const MintedChallenge minted = mint_challenge(*registry_, "tab-9", ca::default_profiles().at("device"), std::nullopt, {}, 3600, "api:operator");
  auto who = requester("tab-9");
  ASSERT_EQ(enroll(who, "tab-9", minted.secret, "tx-tab").pki_status, "3");
  const auto challenge = ledger_->find_challenge(challenge_hash(minted.secret));
  ASSERT_TRUE(challenge);
  EXPECT_TRUE(challenge->used_at);

  // The same challenge in another transaction is refused: it bought one request.
  auto other = requester("tab-9");
  const Reply again = enroll(other, "tab-9", minted.secret, "tx-tab-2");
  EXPECT_EQ(again.pki_status, "2");
  EXPECT_EQ(again.fail_info, "2");
  ASSERT_EQ(requests().size(), 1u);

  const Approval approval = approve_request(*issuer_, *ledger_, requests()[0].id, "api:operator");
  EXPECT_EQ(approval.issued.device.name, "tab-9");
  const Reply collected = poll(who, "tx-tab");
  ASSERT_EQ(collected.pki_status, "0") << collected.fail_info;
  EXPECT_EQ(verify(collected.certificates[0].get(), *authority_), "ok");
}

TEST_F(ScepApproval, RequestFailingCsrPolicyIsRefusedNotHeld) {
  auto weak = requester("weak", 1024);
  const Reply r = enroll(weak, "weak", kStatic, "tx-weak");
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "2");
  EXPECT_TRUE(requests().empty());
}

TEST_F(ScepApproval, RenewalOfAnApprovedCertificateIsNotHeldAgain) {
  auto first = requester("held-4");
  ASSERT_EQ(enroll(first, "held-4", kStatic, "tx-4").pki_status, "3");
  approve_request(*issuer_, *ledger_, requests()[0].id, "api:operator");
  const Reply issued = poll(first, "tx-4");
  ASSERT_EQ(issued.pki_status, "0");
  // RFC 8894 §3.3.1.2 RenewalReq: new key, signed with the issued certificate and its key.
  Requester signer;
  signer.key = std::move(first.key);
  X509_up_ref(issued.certificates[0].get());
  signer.cert.reset(issued.certificates[0].get());
  auto next = rsa_key(2048);
  RequestOptions o;
  o.message_type = "17";
  o.transaction_id = "tx-4-renew";
  const Reply renewed = send(make_request(make_csr(next.get(), "held-4", ""), signer.cert.get(), signer.key.get(),
                                          authority_->ra(), o),
                             signer);
  ASSERT_EQ(renewed.pki_status, "0") << renewed.fail_info;
  EXPECT_EQ(requests().size(), 1u);
}

}  // namespace
}  // namespace portcullis::scep::testing
