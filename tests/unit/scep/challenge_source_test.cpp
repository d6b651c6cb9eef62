// Challenges Portcullis did not mint go to the configured sources (scep/challenge_source.hpp);
// its own (one-time, static) never do. Real CMS requests, real CA and ledger.
#include "scep_test_client.hpp"

#include <mutex>

namespace portcullis::scep::testing {
namespace {

// A source that answers what the test set and remembers what it was asked and told.
class ScriptedSource : public ChallengeSource {
 public:
  ScriptedSource(std::string name, ChallengeVerdict verdict) : name_(std::move(name)), verdict_(std::move(verdict)) {}
  std::string name() const override { return name_; }
  ChallengeVerdict validate(const ChallengeQuery& query) override {
    std::lock_guard lock(mutex_);
    queries.push_back(query);
    return verdict_;
  }
  void notify(const EnrollmentOutcome& outcome) override {
    std::lock_guard lock(mutex_);
    outcomes.push_back(outcome);
  }
  Confirmation confirm(const EnrollmentOutcome& issued) override {
    std::lock_guard lock(mutex_);
    confirmed.push_back(issued);
    return confirmation;
  }
  std::vector<ChallengeQuery> queries;
  std::vector<EnrollmentOutcome> outcomes;
  std::vector<EnrollmentOutcome> confirmed;
  Confirmation confirmation;

 private:
  std::string name_;
  ChallengeVerdict verdict_;
  std::mutex mutex_;
};

using ScepEnrollment = ScepFixture;

class ChallengeSources : public ScepFixture {
 protected:
  void use(std::vector<std::shared_ptr<ChallengeSource>> sources) {
    EnrollmentSettings settings;
    settings.static_challenge = kStatic;
    settings.challenge_sources = std::move(sources);
    enrollment_ = std::make_unique<Enrollment>(*authority_, *issuer_, *registry_, settings);
  }
};

TEST_F(ChallengeSources, TheFirstSourceThatAllowsNamesTheDevice) {
  auto denies = std::make_shared<ScriptedSource>("webhook a", ChallengeVerdict::denied("not enrolled in MDM"));
  auto allows = std::make_shared<ScriptedSource>("webhook b", ChallengeVerdict::allowed("mdm-laptop-7", {"mdm", "sales"}));
  use({denies, allows});
  auto who = requester("csr-cn");
  RequestOptions o;
  o.transaction_id = "tx-mdm-1";
  const Reply r = send(pkcs_req(who, "csr-cn", "mdm-issued-challenge", o), who);
  ASSERT_EQ(r.pki_status, "0") << r.fail_info;
  EXPECT_EQ(ca::subject_string(r.certificates[0].get()), "CN=mdm-laptop-7");
  const auto device = ledger_->find_device_by_name("mdm-laptop-7");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->groups, (std::vector<std::string>{"mdm", "sales"}));

  // Both were asked, with what the request carries.
  ASSERT_EQ(denies->queries.size(), 1u);
  ASSERT_EQ(allows->queries.size(), 1u);
  const ChallengeQuery& q = allows->queries[0];
  EXPECT_EQ(q.challenge, "mdm-issued-challenge");
  EXPECT_EQ(q.transaction_id, "tx-mdm-1");
  EXPECT_EQ(q.subject, "CN=csr-cn");
  EXPECT_TRUE(q.csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n")) << q.csr_pem;
  EXPECT_NE(ca::csr_from_pem_or_der(q.csr_pem), nullptr);

  // Every source hears the outcome, with what names the certificate.
  ASSERT_EQ(denies->outcomes.size(), 1u);
  const EnrollmentOutcome& told = denies->outcomes[0];
  EXPECT_TRUE(told.success);
  EXPECT_EQ(told.outcome, "issued");
  EXPECT_EQ(told.decided_by, "webhook b");
  EXPECT_EQ(told.device, "mdm-laptop-7");
  EXPECT_EQ(told.serial, ca::serial_hex(r.certificates[0].get()));
  EXPECT_EQ(told.fingerprint, ca::sha256_fingerprint_hex(r.certificates[0].get()));
  EXPECT_EQ(ca::cert_to_pem(r.certificates[0].get()), told.certificate_pem);
}

TEST_F(ChallengeSources, TheDecidingSourceConfirmsTheCertificateBeforeItIsSent) {
  auto other = std::make_shared<ScriptedSource>("webhook a", ChallengeVerdict::none());
  auto allows = std::make_shared<ScriptedSource>("intune", ChallengeVerdict::allowed("", {}));
  use({other, allows});
  auto who = requester("confirmed-cn");
  const Reply r = send(pkcs_req(who, "confirmed-cn", "mdm-challenge"), who);
  ASSERT_EQ(r.pki_status, "0") << r.fail_info;
  ASSERT_EQ(allows->confirmed.size(), 1u);
  EXPECT_EQ(allows->confirmed[0].serial, ca::serial_hex(r.certificates[0].get()));
  EXPECT_TRUE(allows->confirmed[0].csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
  EXPECT_TRUE(other->confirmed.empty()) << "only the source that allowed it is asked";
}

TEST_F(ChallengeSources, AnUnconfirmedCertificateIsRevokedAndNeverSent) {
  auto allows = std::make_shared<ScriptedSource>("intune", ChallengeVerdict::allowed("", {}));
  allows->confirmation = {false, "successNotification answered HTTP 500"};
  use({allows});
  auto who = requester("withdrawn-cn");
  RequestOptions o;
  o.transaction_id = "tx-withdrawn";
  const Reply r = send(pkcs_req(who, "withdrawn-cn", "mdm-challenge", o), who);
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "2");
  EXPECT_TRUE(r.certificates.empty());
  ASSERT_EQ(allows->confirmed.size(), 1u);
  const auto cert = ledger_->find_certificate(allows->confirmed[0].serial);
  ASSERT_TRUE(cert);
  EXPECT_TRUE(cert->revoked);
  ASSERT_EQ(allows->outcomes.size(), 1u);
  EXPECT_FALSE(allows->outcomes[0].success);
  EXPECT_EQ(allows->outcomes[0].code, "source_confirmation_failed");
  EXPECT_EQ(allows->outcomes[0].decided_by, "intune");
  // The same transaction again: answered from the ledger, still no certificate.
  const Reply again = send(pkcs_req(who, "withdrawn-cn", "mdm-challenge", o), who);
  EXPECT_EQ(again.pki_status, "2");
  EXPECT_TRUE(again.certificates.empty());
  EXPECT_EQ(certificate_count(), 1u);
}

TEST_F(ChallengeSources, ASourcesFailInfoAndVouchedSansReachTheAnswer) {
  auto expired = std::make_shared<ScriptedSource>("intune", ChallengeVerdict::denied("ChallengeExpired", FailInfo::bad_time));
  use({expired});
  auto who = requester("late-cn");
  const Reply late = send(pkcs_req(who, "late-cn", "old-challenge"), who);
  EXPECT_EQ(late.pki_status, "2");
  EXPECT_EQ(late.fail_info, "3");   // badTime (RFC 8894 §3.2.1.4)

  ChallengeVerdict allowed = ChallengeVerdict::allowed("", {});
  allowed.sans = {"uri:tag:microsoft.com,2022-09-14:sid:S-1-5-21-1-2-3-1001"};
  use({std::make_shared<ScriptedSource>("intune", allowed)});
  auto sid = requester("sid-cn");
  const Reply r = send(pkcs_req(sid, "sid-cn", "sid-challenge"), sid);
  ASSERT_EQ(r.pki_status, "0") << r.fail_info;
  EXPECT_EQ(ca::subject_alt_names(r.certificates[0].get()),
            std::vector<std::string>{"URI:tag:microsoft.com,2022-09-14:sid:S-1-5-21-1-2-3-1001"});
}

TEST_F(ChallengeSources, NoSourceAllowingIsAFailureWithEveryReason) {
  auto denies = std::make_shared<ScriptedSource>("webhook a", ChallengeVerdict::denied("unknown device"));
  auto down = std::make_shared<ScriptedSource>("webhook b", ChallengeVerdict::failed("timed out after 500 ms"));
  use({denies, down});
  auto who = requester("x");
  const Reply r = send(pkcs_req(who, "x", "some-challenge"), who);
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "2");   // badRequest (RFC 8894 §3.2.1.4)
  EXPECT_EQ(certificate_count(), 0u);
  ASSERT_EQ(down->outcomes.size(), 1u);
  EXPECT_FALSE(down->outcomes[0].success);
  EXPECT_EQ(down->outcomes[0].outcome, "refused");
  EXPECT_NE(down->outcomes[0].reason.find("webhook a: unknown device; webhook b: timed out after 500 ms"),
            std::string::npos)
      << down->outcomes[0].reason;
}

TEST_F(ChallengeSources, ChallengesPortcullisMintedAreNeverPutToSources) {
  auto allows = std::make_shared<ScriptedSource>("webhook", ChallengeVerdict::allowed("", {}));
  use({allows});
  auto a = requester("kiosk-1");
  ASSERT_EQ(send(pkcs_req(a, "kiosk-1", kStatic), a).pki_status, "0");
  const auto minted = mint_challenge(*registry_, "ipad-1", ca::default_profiles().at("device"), std::nullopt, {}, 600, "t");
  auto b = requester("ipad-1");
  ASSERT_EQ(send(pkcs_req(b, "ipad-1", minted.secret), b).pki_status, "0");
  // Spent: decided locally again, and refused, although the source would allow anything.
  auto c = requester("ipad-1");
  RequestOptions o;
  o.transaction_id = "tx-again";
  EXPECT_EQ(send(pkcs_req(c, "ipad-1", minted.secret, o), c).pki_status, "2");
  EXPECT_TRUE(allows->queries.empty());
  EXPECT_EQ(allows->outcomes.size(), 3u);   // but told every outcome
}

// A source that allows without naming a device vouches for none: the CSR's CN is the
// requester's choice, so it may not take a device an operator named (a certificate for it
// would supersede, and revoke, that device's own).
TEST_F(ChallengeSources, ASourceThatNamesNoDeviceCannotTakeAnOperatorsDevice) {
  auto allows = std::make_shared<ScriptedSource>("webhook", ChallengeVerdict::allowed("", {"mdm"}));
  use({allows});
  registry_->create_device(ca::NewDevice{"ops-laptop", "", "", {}}, "test");
  auto squatter = requester("ops-laptop");
  const Reply refused = send(pkcs_req(squatter, "ops-laptop", "mdm-issued-challenge"), squatter);
  EXPECT_EQ(refused.pki_status, "2");
  EXPECT_EQ(refused.fail_info, "2");   // badRequest (RFC 8894 §3.2.1.4)
  EXPECT_EQ(certificate_count(), 0u);
  ASSERT_EQ(allows->outcomes.size(), 1u);
  EXPECT_NE(allows->outcomes[0].reason.find("exists and was not enrolled by an MDM challenge"), std::string::npos)
      << allows->outcomes[0].reason;

  // A new CN is a new device, marked as named by a requester; it may enroll again.
  auto mac = requester("C02-9");
  RequestOptions o;
  o.transaction_id = "tx-new";
  ASSERT_EQ(send(pkcs_req(mac, "C02-9", "mdm-issued-challenge", o), mac).pki_status, "0");
  const auto device = ledger_->find_device_by_name("C02-9");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->groups, (std::vector<std::string>{"mdm", kMdmChallengeGroup}));
  auto wiped = requester("C02-9");
  o.transaction_id = "tx-wiped";
  EXPECT_EQ(send(pkcs_req(wiped, "C02-9", "mdm-issued-challenge", o), wiped).pki_status, "0");

  // Naming the device vouches for it: the operator's device may then be enrolled.
  auto named = std::make_shared<ScriptedSource>("webhook", ChallengeVerdict::allowed("ops-laptop", {}));
  use({named});
  auto owner = requester("ops-laptop");
  o.transaction_id = "tx-named";
  EXPECT_EQ(send(pkcs_req(owner, "whatever", "mdm-issued-challenge", o), owner).pki_status, "0");
}

TEST_F(ChallengeSources, ANotificationOnlySourceDoesNotMakeAWrongChallengeRight) {
  auto listens = std::make_shared<ScriptedSource>("webhook", ChallengeVerdict::none());
  use({listens});
  auto who = requester("x");
  EXPECT_EQ(send(pkcs_req(who, "x", "anything"), who).pki_status, "2");
  EXPECT_EQ(certificate_count(), 0u);
}

// An unbound challenge (POST /scep/challenge/jamf) is bound at first use to the CSR's CN,
// and never to a device an operator named.
TEST_F(ScepEnrollment, AnUnboundChallengeBindsToTheFirstCnOnce) {
  const ca::Profile profile = ca::default_profiles().at("device");
  const auto minted = mint_unbound_challenge(*registry_, profile, 600, "jamf");
  EXPECT_EQ(minted.record.device_id, 0);
  registry_->create_device(ca::NewDevice{"ops-laptop", "", "", {}}, "test");
  auto squatter = requester("ops-laptop");
  EXPECT_EQ(send(pkcs_req(squatter, "ops-laptop", minted.secret), squatter).pki_status, "2");

  auto mac = requester("C02-1");
  RequestOptions o;
  o.transaction_id = "tx-mac";
  const Reply r = send(pkcs_req(mac, "C02-1", minted.secret, o), mac);
  ASSERT_EQ(r.pki_status, "0") << r.fail_info;
  const auto device = ledger_->find_device_by_name("C02-1");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->groups, std::vector<std::string>{kMdmChallengeGroup});
  const auto challenge = ledger_->find_challenge(minted.record.secret_hash);
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->device_id, device->id);
  EXPECT_TRUE(challenge->used_at);

  auto other = requester("C02-2");
  o.transaction_id = "tx-other";
  EXPECT_EQ(send(pkcs_req(other, "C02-2", minted.secret, o), other).pki_status, "2");
  EXPECT_EQ(certificate_count(), 1u);

  // A later unbound challenge may enroll the device an earlier one created (a wiped Mac).
  const auto again = mint_unbound_challenge(*registry_, profile, 600, "jamf");
  auto wiped = requester("C02-1");
  o.transaction_id = "tx-wiped";
  EXPECT_EQ(send(pkcs_req(wiped, "C02-1", again.secret, o), wiped).pki_status, "0");
}

}  // namespace
}  // namespace portcullis::scep::testing
