// RFC 8894 §3.3.4 certificate and CRL access: GetCert and GetCRL with an
// IssuerAndSerialNumber, answered with a CertRep whose degenerate PKCS#7 carries the
// certificate or the CRL that /crl publishes.
#include "scep_test_client.hpp"

#include <ctime>

namespace portcullis::scep::testing {
namespace {

class ScepCertificateAccess : public ScepFixture {
 protected:
  void SetUp() override {
    ScepFixture::SetUp();
    crl_ = std::make_unique<ca::CrlPublisher>(*authority_, *ledger_, ca::CrlSettings{});
    crl_->regenerate(static_cast<ca::UnixTime>(std::time(nullptr)));
    EnrollmentSettings settings;
    settings.static_challenge = kStatic;
    enrollment_ = std::make_unique<Enrollment>(*authority_, *issuer_, *registry_, settings, crl_.get());
  }
  void TearDown() override {
    enrollment_.reset();
    crl_.reset();
    ScepFixture::TearDown();
  }

  // A certificate issued over SCEP, and its requester.
  ca::X509Ptr enroll(const Requester& who, const std::string& cn) {
    RequestOptions o;
    o.transaction_id = "tx-" + cn;
    Reply r = send(pkcs_req(who, cn, kStatic, o), who);
    EXPECT_EQ(r.pki_status, "0") << r.fail_info;
    return r.certificates.empty() ? nullptr : std::move(r.certificates[0]);
  }

  Reply ask(const Requester& who, const std::string& type, const X509_NAME* issuer, const ASN1_INTEGER* serial) {
    RequestOptions o;
    o.message_type = type;
    o.transaction_id = "tx-access-" + type;
    return send(make_request(issuer_and_serial(issuer, serial), who.cert.get(), who.key.get(), authority_->ra(), o), who);
  }

  std::unique_ptr<ca::CrlPublisher> crl_;
};

TEST_F(ScepCertificateAccess, GetCrlAnswersTheCurrentCrlWithTheRevokedSerial) {
  auto who = requester("crl-1");
  const ca::X509Ptr cert = enroll(who, "crl-1");
  ASSERT_TRUE(cert);
  registry_->revoke(ca::serial_hex(cert.get()), ca::RevocationReason::key_compromise,
                    static_cast<ca::UnixTime>(std::time(nullptr)), "test");
  crl_->regenerate(static_cast<ca::UnixTime>(std::time(nullptr)));

  const Reply r = ask(who, "22", X509_get_issuer_name(cert.get()), X509_get0_serialNumber(cert.get()));
  ASSERT_EQ(r.pki_status, "0") << r.fail_info;
  EXPECT_EQ(r.message_type, "3");
  EXPECT_TRUE(r.certificates.empty());
  ASSERT_EQ(r.crls.size(), 1u);
  X509_CRL* crl = r.crls[0].get();
  // Signed by the issuing CA, and the very CRL /crl serves.
  EXPECT_EQ(X509_CRL_verify(crl, X509_get0_pubkey(authority_->issuing())), 1);
  EXPECT_EQ(ca::to_der(crl, i2d_X509_CRL, "i2d_X509_CRL"), crl_->current()->der);
  X509_REVOKED* entry = nullptr;
  EXPECT_EQ(X509_CRL_get0_by_serial(crl, &entry, const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(cert.get()))), 1);
  EXPECT_EQ(enrollment_->counters().crls_sent, 1u);
  EXPECT_EQ(enrollment_->counters().rejected, 0u);
}

TEST_F(ScepCertificateAccess, GetCrlForAnotherIssuerIsBadCertId) {
  auto who = requester("crl-2");
  const ca::X509Ptr cert = enroll(who, "crl-2");
  ASSERT_TRUE(cert);
  const ca::X509NamePtr other = ca::make_name({{"CN", "Some Other CA"}});
  const Reply r = ask(who, "22", other.get(), X509_get0_serialNumber(cert.get()));
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "4");
}

TEST_F(ScepCertificateAccess, GetCrlWithoutAPublisherIsBadRequest) {
  auto who = requester("crl-3");
  const ca::X509Ptr cert = enroll(who, "crl-3");
  ASSERT_TRUE(cert);
  EnrollmentSettings settings;
  settings.static_challenge = kStatic;
  enrollment_ = std::make_unique<Enrollment>(*authority_, *issuer_, *registry_, settings);
  const Reply r = ask(who, "22", X509_get_issuer_name(cert.get()), X509_get0_serialNumber(cert.get()));
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "2");
}

TEST_F(ScepCertificateAccess, GetCertAnswersOurCertificateAndRefusesUnknownSerialsAndIssuers) {
  auto who = requester("get-1");
  const ca::X509Ptr cert = enroll(who, "get-1");
  ASSERT_TRUE(cert);
  const Reply r = ask(who, "21", X509_get_issuer_name(cert.get()), X509_get0_serialNumber(cert.get()));
  ASSERT_EQ(r.pki_status, "0") << r.fail_info;
  ASSERT_EQ(r.certificates.size(), 1u);
  EXPECT_EQ(X509_cmp(r.certificates[0].get(), cert.get()), 0);

  ca::Asn1IntegerPtr unknown(ASN1_INTEGER_new());
  ASSERT_EQ(ASN1_INTEGER_set(unknown.get(), 424242), 1);
  const Reply missing = ask(who, "21", X509_get_issuer_name(cert.get()), unknown.get());
  EXPECT_EQ(missing.pki_status, "2");
  EXPECT_EQ(missing.fail_info, "4");

  const ca::X509NamePtr other = ca::make_name({{"CN", "Some Other CA"}});
  const Reply elsewhere = ask(who, "21", other.get(), X509_get0_serialNumber(cert.get()));
  EXPECT_EQ(elsewhere.pki_status, "2");
  EXPECT_EQ(elsewhere.fail_info, "4");

  // Counted by failInfo, and by name for the admin API.
  const EnrollmentCounters counters = enrollment_->counters();
  EXPECT_EQ(counters.certificates_sent, 1u);
  EXPECT_EQ(counters.rejected, 2u);
  EXPECT_EQ(counters.rejected_by_fail_info[static_cast<std::size_t>(FailInfo::bad_cert_id)], 2u);
  EXPECT_EQ(counters.rejected_by_fail_info[static_cast<std::size_t>(FailInfo::bad_request)], 0u);
  bool named = false;
  for (const auto& [name, value] : counters.named())
    if (name == "rejected_badCertId") named = value == 2u;
  EXPECT_TRUE(named);
}

}  // namespace
}  // namespace portcullis::scep::testing
