// SCEP enrollment end to end in memory: real CMS requests built by the test client,
// real CA, real SQLite ledger.
#include "scep_test_client.hpp"

#include <openssl/err.h>
#include <sqlite3.h>

#include <set>
#include <thread>

namespace portcullis::scep::testing {
namespace {

std::string cn_of(const X509* cert) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

using ScepEnrollment = ScepFixture;

TEST_F(ScepEnrollment, StaticChallengeIssuesACertificateThatVerifies) {
  auto who = requester("laptop-1");
  RequestOptions o;
  o.transaction_id = "tx-static";
  const Reply r = send(pkcs_req(who, "laptop-1", kStatic, o), who);
  ASSERT_EQ(r.pki_status, "0") << r.fail_info;
  EXPECT_EQ(r.message_type, "3");
  EXPECT_EQ(r.transaction_id, "tx-static");
  EXPECT_EQ(r.recipient_nonce, "0123456789abcdef");
  EXPECT_EQ(r.digest_nid, NID_sha256);
  ASSERT_EQ(r.certificates.size(), 1u);
  const X509* cert = r.certificates[0].get();
  EXPECT_EQ(verify(cert, *authority_), "ok");
  EXPECT_EQ(cn_of(cert), "laptop-1");
  // The certificate is for the CSR's key, not the self-signed signer's (same key here).
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert), who.key.get()), 1);
  const auto device = ledger_->find_device_by_name("laptop-1");
  ASSERT_TRUE(device);
  const auto record = ledger_->find_certificate(ca::serial_hex(cert));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->device_id, device->id);
  EXPECT_EQ(enrollment_->counters().issued, 1u);
}

TEST_F(ScepEnrollment, DynamicChallengeIsBoundToItsDeviceAndSpentOnce) {
  const auto minted = mint_challenge(*registry_, "ipad-7", ca::default_profiles().at("device"), std::nullopt, {}, 3600, "test");
  EXPECT_EQ(minted.secret.size(), 32u);
  EXPECT_NE(minted.record.secret_hash, minted.secret);   // stored hashed
  auto who = requester("x");
  RequestOptions o;
  o.transaction_id = "tx-a";
  const Reply r = send(pkcs_req(who, "ipad-7", minted.secret, o), who);
  ASSERT_EQ(r.pki_status, "0") << r.fail_info;
  const auto record = ledger_->find_certificate(ca::serial_hex(r.certificates[0].get()));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->device_id, minted.record.device_id);
  const auto challenge = ledger_->find_challenge(minted.record.secret_hash);
  ASSERT_TRUE(challenge);
  EXPECT_TRUE(challenge->used_at.has_value());

  // Used: a second request (other transaction, other key) with it is refused.
  auto other = requester("y");
  o.transaction_id = "tx-b";
  const Reply again = send(pkcs_req(other, "ipad-7", minted.secret, o), other);
  EXPECT_EQ(again.pki_status, "2");
  EXPECT_EQ(again.fail_info, "2");
  EXPECT_TRUE(again.certificates.empty());
  EXPECT_EQ(certificate_count(), 1u);
}

// The static challenge is in every profile an MDM hands out, so it proves nothing about
// which device asks: it may create a device, never get a certificate for one that exists.
TEST_F(ScepEnrollment, StaticChallengeOnlyEnrollsNewDevices) {
  registry_->create_device(ca::NewDevice{"ceo-laptop", "", "", {"admins"}}, "test");
  auto attacker = requester("ceo-laptop");
  const Reply refused = send(pkcs_req(attacker, "ceo-laptop", kStatic), attacker);
  EXPECT_EQ(refused.pki_status, "2");
  EXPECT_EQ(refused.fail_info, "2");
  EXPECT_EQ(certificate_count(), 0u);

  // A device the static challenge created is not enrolled again by it either.
  auto first = requester("kiosk-9");
  RequestOptions o;
  o.transaction_id = "tx-kiosk-1";
  ASSERT_EQ(send(pkcs_req(first, "kiosk-9", kStatic, o), first).pki_status, "0");
  auto second = requester("kiosk-9");
  o.transaction_id = "tx-kiosk-2";
  EXPECT_EQ(send(pkcs_req(second, "kiosk-9", kStatic, o), second).pki_status, "2");
  EXPECT_EQ(certificate_count(), 1u);

  // The CN names the device: one that could forge log lines or pass for a device id is refused.
  for (const char* bad : {"evil\nscep: issued certificate", "12345"}) {
    auto who = requester("bad");
    EXPECT_EQ(send(pkcs_req(who, bad, kStatic), who).pki_status, "2") << bad;
  }
  EXPECT_EQ(certificate_count(), 1u);
}

// A name the static challenge claimed (perhaps ahead of the real device) is marked, and an
// operator's challenge is not bound to it while it holds valid certificates.
TEST_F(ScepEnrollment, ANameTheStaticChallengeClaimedIsMarkedAndNotBoundOver) {
  auto squatter = requester("laptop-043");
  ASSERT_EQ(send(pkcs_req(squatter, "laptop-043", kStatic), squatter).pki_status, "0");
  const auto device = ledger_->find_device_by_name("laptop-043");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->groups, std::vector<std::string>{kStaticGroup});
  const ca::Profiles profiles = ca::default_profiles();
  const ca::Profile& profile = profiles.at("device");
  EXPECT_THROW(mint_challenge(*registry_, "laptop-043", profile, std::nullopt, {}, 600, "api:ops"), ca::LedgerConflict);
  registry_->revoke_device(device->id, ca::RevocationReason::superseded, static_cast<ca::UnixTime>(std::time(nullptr)),
                           "api:ops");
  EXPECT_NO_THROW(mint_challenge(*registry_, "laptop-043", profile, std::nullopt, {}, 600, "api:ops"));
  // A SAN type the profile would refuse at issuance is refused when minting.
  EXPECT_THROW(mint_challenge(*registry_, "tab-1", profile, std::nullopt, {"ip:10.0.0.1"}, 600, "t"),
               std::invalid_argument);
}

// The certificate names what the one-time challenge pinned, not what the CSR asks for.
TEST_F(ScepEnrollment, AChallengeThatPinsNamesGetsThoseNames) {
  const auto minted = mint_challenge(*registry_, "ipad-8", ca::default_profiles().at("device"), std::string("ipad-8"),
                                     {"dns:ipad-8.corp.example", "email:ipad-8@corp.example"}, 3600, "test");
  auto who = requester("x");
  const Reply r = send(pkcs_req(who, "ipad-8", minted.secret), who);
  ASSERT_EQ(r.pki_status, "0") << r.fail_info;
  const X509* cert = r.certificates[0].get();
  EXPECT_EQ(ca::subject_string(cert), "CN=ipad-8");
  EXPECT_EQ(ca::subject_alt_names(cert), (std::vector<std::string>{"DNS:ipad-8.corp.example", "email:ipad-8@corp.example"}));
}

TEST_F(ScepEnrollment, WrongAndExpiredChallengesAreBadRequest) {
  auto who = requester("a");
  Reply r = send(pkcs_req(who, "a", "not-the-secret"), who);
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "2");
  r = send(pkcs_req(who, "a", ""), who);
  EXPECT_EQ(r.fail_info, "2");

  // Expired: mint, then move its expiry into the past through a second ledger handle.
  // (A 1-second TTL plus a sleep would race the second boundary inside mint itself.)
  const auto minted = mint_challenge(*registry_, "old", ca::default_profiles().at("device"), std::nullopt, {}, 600, "test");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/ledger.db").c_str(), &db), SQLITE_OK);
    const int rc = sqlite3_exec(db, "UPDATE challenges SET expires_at = expires_at - 3600", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK);
  }
  r = send(pkcs_req(who, "old", minted.secret), who);
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "2");
  EXPECT_EQ(certificate_count(), 0u);
  EXPECT_EQ(enrollment_->counters().rejected, 3u);
  enrollment_->refusal_audit().flush();   // refusal rows are written in batches
  EXPECT_EQ(ledger_->audit({std::nullopt, std::string("scep.reject"), 10}).size(), 3u);
}

TEST_F(ScepEnrollment, CsrForAnotherSubjectThanTheBindingIsBadRequest) {
  const auto bound = mint_challenge(*registry_, "phone-1", ca::default_profiles().at("device"), std::string("phone-1"), {}, 600, "test");
  auto who = requester("z");
  Reply r = send(pkcs_req(who, "phone-2", bound.secret), who);
  EXPECT_EQ(r.fail_info, "2");
  // Without a CN binding, naming another existing device is refused too.
  registry_->create_device({"someone-else", "", "", {}}, "test");
  const auto loose = mint_challenge(*registry_, "phone-3", ca::default_profiles().at("device"), std::nullopt, {}, 600, "test");
  r = send(pkcs_req(who, "someone-else", loose.secret), who);
  EXPECT_EQ(r.fail_info, "2");
  EXPECT_EQ(certificate_count(), 0u);
  // The refused challenges are still usable by their own device.
  r = send(pkcs_req(who, "phone-1", bound.secret), who);
  EXPECT_EQ(r.pki_status, "0");
}

TEST_F(ScepEnrollment, Rsa1024IsBadRequest) {
  auto weak = requester("weak", 1024);
  const Reply r = send(pkcs_req(weak, "weak", kStatic), weak);
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "2");
  EXPECT_EQ(certificate_count(), 0u);
}

TEST_F(ScepEnrollment, RetransmissionReturnsTheSameCertificate) {
  auto who = requester("dup");
  RequestOptions o;
  o.transaction_id = "tx-dup";
  const ca::Bytes message = pkcs_req(who, "dup", kStatic, o);
  const Reply first = send(message, who);
  const Reply second = send(pkcs_req(who, "dup", kStatic, o), who);
  ASSERT_EQ(first.pki_status, "0");
  ASSERT_EQ(second.pki_status, "0");
  EXPECT_EQ(ca::serial_hex(first.certificates[0].get()), ca::serial_hex(second.certificates[0].get()));
  EXPECT_EQ(certificate_count(), 1u);

  // CertPoll for that transaction finds it too.
  o.message_type = "20";
  const ca::Bytes poll = make_request(ca::Bytes{0x30, 0x00}, who.cert.get(), who.key.get(), authority_->ra(), o);
  const Reply polled = send(poll, who);
  ASSERT_EQ(polled.pki_status, "0");
  EXPECT_EQ(ca::serial_hex(polled.certificates[0].get()), ca::serial_hex(first.certificates[0].get()));
}

TEST_F(ScepEnrollment, PollForAnUnknownTransactionIsBadCertId) {
  auto who = requester("p");
  RequestOptions o;
  o.message_type = "20";
  o.transaction_id = "never-seen";
  const Reply r = send(make_request(ca::Bytes{0x30, 0x00}, who.cert.get(), who.key.get(), authority_->ra(), o), who);
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "4");
}

TEST_F(ScepEnrollment, RenewalSignedByOurCertificateGoesToTheSameDevice) {
  auto first = requester("renew-me");
  const Reply issued = send(pkcs_req(first, "renew-me", kStatic), first);
  ASSERT_EQ(issued.pki_status, "0");
  // RenewalReq: new key in the CSR, signed with the issued certificate and its key.
  Requester signer;
  signer.key = std::move(first.key);
  X509_up_ref(issued.certificates[0].get());
  signer.cert.reset(issued.certificates[0].get());
  auto fresh = rsa_key(2048);
  RequestOptions o;
  o.message_type = "17";
  // The first request's transactionID again, as micromdm sends it (derived from a key it
  // keeps): the new signing certificate makes it a new transaction, not a retransmission.
  o.transaction_id = "tx-1";
  // The CSR asks for another name: a renewal keeps the names of the certificate it renews.
  const ca::Bytes message =
      make_request(make_csr(fresh.get(), "renamed-by-device", ""), signer.cert.get(), signer.key.get(), authority_->ra(), o);
  const Reply renewed = send(message, signer);
  ASSERT_EQ(renewed.pki_status, "0") << renewed.fail_info;
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(renewed.certificates[0].get()), fresh.get()), 1);
  EXPECT_EQ(cn_of(renewed.certificates[0].get()), "renew-me");
  const auto a = ledger_->find_certificate(ca::serial_hex(issued.certificates[0].get()));
  const auto b = ledger_->find_certificate(ca::serial_hex(renewed.certificates[0].get()));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->device_id, b->device_id);
  EXPECT_EQ(enrollment_->counters().renewed, 1u);

  // Once revoked, that certificate renews nothing.
  registry_->revoke(a->serial_hex, ca::RevocationReason::key_compromise, static_cast<ca::UnixTime>(std::time(nullptr)),
                    "test");
  o.transaction_id = "tx-renew-2";
  const Reply refused = send(
      make_request(make_csr(fresh.get(), "renew-me", ""), signer.cert.get(), signer.key.get(), authority_->ra(), o),
      signer);
  EXPECT_EQ(refused.fail_info, "2");
}

// A certificate that names our issuing CA (issuer DN, authority key identifier, an ECDSA
// signature like ours) but was signed by another key renews nothing: the signature check
// runs on a full parse of the certificate as received.
TEST_F(ScepEnrollment, RenewalWithACertificateForgedInOurNameIsRefused) {
  Requester forger;
  forger.key = rsa_key(2048);
  ca::EvpPkeyPtr other_ca_key(check_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "keygen"));
  const ca::Bytes serial{0x42, 0x42};
  ca::X509NamePtr subject = ca::make_name({{"CN", "forged"}});
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  forger.cert = ca::new_certificate(serial, subject.get(), X509_get_subject_name(authority_->issuing()),
                                    forger.key.get(), now - 60, now + 3600);
  ca::add_authority_key_identifier(forger.cert.get(), authority_->issuing());
  ca::sign_certificate(forger.cert.get(), other_ca_key.get(), EVP_sha256());
  ASSERT_EQ(X509_check_issued(const_cast<X509*>(authority_->issuing()), forger.cert.get()), X509_V_OK)
      << "the forgery must get past the name and key-identifier checks";
  RequestOptions o;
  o.message_type = "17";
  const Reply r = send(make_request(make_csr(forger.key.get(), "forged", ""), forger.cert.get(), forger.key.get(),
                                    authority_->ra(), o),
                       forger);
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "2");
  EXPECT_EQ(certificate_count(), 0u);
  EXPECT_EQ(enrollment_->counters().renewed, 0u);
}

TEST_F(ScepEnrollment, RenewalReqSignedBySelfSignedCertificateIsRefused) {
  auto who = requester("nope");
  RequestOptions o;
  o.message_type = "17";
  const Reply r = send(pkcs_req(who, "nope", kStatic, o), who);
  EXPECT_EQ(r.fail_info, "2");
  EXPECT_EQ(certificate_count(), 0u);
}

TEST_F(ScepEnrollment, SixteenConcurrentEnrollmentsGetDistinctCertificates) {
  std::vector<Requester> who;
  std::vector<ca::Bytes> messages;
  for (int i = 0; i < 16; ++i) {
    who.push_back(requester("c" + std::to_string(i)));
    RequestOptions o;
    o.transaction_id = "tx-c" + std::to_string(i);
    messages.push_back(pkcs_req(who.back(), "c" + std::to_string(i), kStatic, o));
  }
  std::vector<ca::Bytes> replies(16);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) threads.emplace_back([&, i] { replies[i] = enrollment_->handle(messages[i]); });
  for (auto& t : threads) t.join();
  std::set<std::string> serials;
  for (int i = 0; i < 16; ++i) {
    const Reply r = open_reply(replies[i], authority_->ra(), who[i].cert.get(), who[i].key.get());
    ASSERT_EQ(r.pki_status, "0");
    serials.insert(ca::serial_hex(r.certificates[0].get()));
  }
  EXPECT_EQ(serials.size(), 16u);
  EXPECT_EQ(certificate_count(), 16u);
}

}  // namespace
}  // namespace portcullis::scep::testing
