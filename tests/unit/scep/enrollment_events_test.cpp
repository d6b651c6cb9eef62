// SCEP decision events: each PKIOperation outcome (issued, renewed, pending, approved,
// reject with its term and failInfo) is one event; repeats are not; refusals from one
// address are limited with their audit rows.
#include "scep_test_client.hpp"
#include "tests/unit/support/recording_sink.hpp"

#include "scep/approval.hpp"

#include <mutex>

namespace portcullis::scep::testing {
namespace {

using portcullis::testing::RecordingSink;

class ScepEvents : public ScepFixture {
 protected:
  void SetUp() override {
    ScepFixture::SetUp();
    remake(false);
  }
  void remake(bool manual_approval) {
    enrollment_.reset();
    ca::Profiles profiles = ca::default_profiles();
    profiles.at("device").manual_approval = manual_approval;
    issuer_ = std::make_unique<ca::Issuer>(*authority_, profiles, ca::IssuerUrls{kCrlUrl, kOcspUrl}, *registry_);
    EnrollmentSettings settings;
    settings.static_challenge = kStatic;
    settings.events = &sink_;
    settings.refusals.rows_per_source_per_minute = 3;
    settings.refusals.background_writer = false;
    enrollment_ = std::make_unique<Enrollment>(*authority_, *issuer_, *registry_, settings);
  }
  Reply send_from(const ca::Bytes& message, const Requester& who, std::string_view source) {
    return open_reply(enrollment_->handle(message, source), authority_->ra(), who.cert.get(), who.key.get());
  }
  ca::Event only_event() {
    auto events = sink_.take();
    EXPECT_EQ(events.size(), 1u);
    return events.empty() ? ca::Event{} : events.front();
  }
  Reply poll(const Requester& who, const std::string& transaction_id) {
    RequestOptions o;
    o.message_type = "20";
    o.transaction_id = transaction_id;
    return send_from(make_request(ca::Bytes{0x30, 0x00}, who.cert.get(), who.key.get(), authority_->ra(), o), who,
                     "192.0.2.5");
  }

  RecordingSink sink_;
};

TEST_F(ScepEvents, IssuedThenTheSameChallengeAgainIsChallengeUsed) {
  const auto minted = mint_challenge(*registry_, "ipad-7", ca::default_profiles().at("device"), std::nullopt, {}, 3600, "test");
  auto who = requester("x");
  RequestOptions o;
  o.transaction_id = "tx-a";
  const Reply r = send_from(pkcs_req(who, "ipad-7", minted.secret, o), who, "192.0.2.5");
  ASSERT_EQ(r.pki_status, "0") << r.fail_info;
  ca::Event e = only_event();
  EXPECT_EQ(e.kind, "scep");
  EXPECT_EQ(e.outcome, "issued");
  EXPECT_EQ(e.reason, "ok");
  EXPECT_EQ(e.device, "ipad-7");
  EXPECT_EQ(e.serial, ca::serial_hex(r.certificates[0].get()));
  EXPECT_EQ(e.cn, "ipad-7");
  EXPECT_EQ(e.transaction_id, "tx-a");
  EXPECT_EQ(e.nas_ip, "192.0.2.5");

  // The retransmission is answered from the transaction: no second outcome.
  ASSERT_EQ(send_from(pkcs_req(who, "ipad-7", minted.secret, o), who, "192.0.2.5").pki_status, "0");
  EXPECT_TRUE(sink_.take().empty());

  auto other = requester("y");
  o.transaction_id = "tx-b";
  ASSERT_EQ(send_from(pkcs_req(other, "ipad-7", minted.secret, o), other, "192.0.2.6").pki_status, "2");
  e = only_event();
  EXPECT_EQ(e.outcome, "reject");
  EXPECT_EQ(e.reason, "challenge_used");
  EXPECT_EQ(e.detail, "badRequest: challenge already used");
  EXPECT_EQ(e.device, "ipad-7");
  EXPECT_EQ(e.transaction_id, "tx-b");
  EXPECT_EQ(e.nas_ip, "192.0.2.6");
}

// A Jamf challenge is bound to no device until issuance; a request held for approval needs
// one. The refusal says so, and the challenge is not spent.
TEST_F(ScepEvents, AnUnboundChallengeUnderManualApprovalIsRefusedWithTheReason) {
  remake(true);
  const auto minted = mint_unbound_challenge(*registry_, ca::default_profiles().at("device"), 600, "jamf");
  auto mac = requester("C02-new");
  const Reply r = send_from(pkcs_req(mac, "C02-new", minted.secret), mac, "192.0.2.5");
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "2");   // badRequest (RFC 8894 §3.2.1.4)
  const ca::Event e = only_event();
  EXPECT_EQ(e.reason, "challenge_unbound_needs_approval");
  EXPECT_NE(e.detail.find("profile 'device' needs manual approval"), std::string::npos) << e.detail;
  EXPECT_TRUE(ledger_->list_scep_requests("", 10).empty());
  EXPECT_FALSE(ledger_->find_device_by_name("C02-new"));
  const auto challenge = ledger_->find_challenge(minted.record.secret_hash);
  ASSERT_TRUE(challenge);
  EXPECT_FALSE(challenge->used_at);
}

TEST_F(ScepEvents, RefusalsSayWhyInTheirTerm) {
  auto who = requester("a");
  ASSERT_EQ(send_from(pkcs_req(who, "a", "not-the-secret"), who, "192.0.2.7").pki_status, "2");
  ca::Event e = only_event();
  EXPECT_EQ(e.reason, "challenge_wrong");
  EXPECT_EQ(e.cn, "a");
  ASSERT_EQ(send_from(pkcs_req(who, "a", ""), who, "192.0.2.7").pki_status, "2");
  EXPECT_EQ(only_event().reason, "challenge_missing");
  RequestOptions o;
  o.message_type = "20";
  o.transaction_id = "never-seen";
  ASSERT_EQ(send_from(make_request(ca::Bytes{0x30, 0x00}, who.cert.get(), who.key.get(), authority_->ra(), o), who,
                      "192.0.2.7")
                .fail_info,
            "4");
  e = only_event();
  EXPECT_EQ(e.reason, "unknown_transaction");
  EXPECT_EQ(e.detail, "badCertId: unknown transaction");
}

TEST_F(ScepEvents, RefusalsFromOneAddressAreLimitedWithTheirAuditRows) {
  auto who = requester("f");
  for (int i = 0; i < 10; ++i) ASSERT_EQ(send_from(pkcs_req(who, "f", "wrong"), who, "198.51.100.1").pki_status, "2");
  EXPECT_EQ(sink_.take().size(), 3u);  // rows_per_source_per_minute
  ASSERT_EQ(send_from(pkcs_req(who, "f", "wrong"), who, "198.51.100.2").pki_status, "2");
  EXPECT_EQ(sink_.take().size(), 1u);  // another address has its own allowance
}

TEST_F(ScepEvents, PendingThenApprovedWhenThePollCollects) {
  remake(true);
  auto who = requester("held-1");
  RequestOptions o;
  o.transaction_id = "tx-held";
  ASSERT_EQ(send_from(pkcs_req(who, "held-1", kStatic, o), who, "192.0.2.5").pki_status, "3");
  ca::Event e = only_event();
  EXPECT_EQ(e.outcome, "pending");
  EXPECT_EQ(e.device, "held-1");
  ASSERT_EQ(poll(who, "tx-held").pki_status, "3");
  EXPECT_TRUE(sink_.take().empty());  // still pending: said already
  const auto pending = ledger_->list_scep_requests("pending", 10);
  ASSERT_EQ(pending.size(), 1u);
  const Approval approval = approve_request(*issuer_, *ledger_, pending[0].id, "api:operator");
  ASSERT_EQ(poll(who, "tx-held").pki_status, "0");
  e = only_event();
  EXPECT_EQ(e.outcome, "approved");
  EXPECT_EQ(e.serial, *approval.request.serial);
  EXPECT_EQ(e.device, "held-1");
  ASSERT_EQ(poll(who, "tx-held").pki_status, "0");
  EXPECT_EQ(only_event().outcome, "approved");  // each collection of it says so
}

}  // namespace
}  // namespace portcullis::scep::testing
