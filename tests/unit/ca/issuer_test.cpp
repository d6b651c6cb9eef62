// ca/issuer: what gets signed, what gets refused, and that every signature lands in the
// real SQLite ledger and the identity index (and nothing does on refusal).
#include "ca/issuer.hpp"

#include "ca/identity_index.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/registry.hpp"
#include "signing_support.hpp"
#include "tests/unit/support/forwarding_ledger.hpp"
#include "tests/unit/support/scratch_registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <set>
#include <thread>

namespace portcullis::ca {
namespace {

using testing::TempDir;
using testing::csr_pem;
using testing::ec_key;
using testing::rsa_key;

constexpr const char* kCrl = "http://pki.example.net/crl";
constexpr const char* kOcsp = "http://pki.example.net/ocsp";

// Forwards to the real ledger but reports DuplicateSerial for the first `duplicates`
// issuances, to exercise the issuer's fresh-serial retry.
class DuplicatingLedger final : public portcullis::testing::ForwardingLedger {
 public:
  DuplicatingLedger(Ledger& real, int duplicates) : ForwardingLedger(real), duplicates_(duplicates) {}
  int calls = 0;

  IssuanceOutcome record_issuance(const DeviceRef& d, CertificateRecord r, const std::string& a) override {
    ++calls;
    if (duplicates_-- > 0) throw DuplicateSerial("serial exists");
    return real_.record_issuance(d, std::move(r), a);
  }

 private:
  int duplicates_;
};

// One CA shared by all tests (key generation is the slow part); a fresh ledger per test.
class IssuerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_dir_ = new TempDir();
    BootstrapOptions o;
    o.ca_dir = ca_dir_->sub("ca");
    o.organization = "Acme";
    o.crl_url = kCrl;
    o.ocsp_url = kOcsp;
    bootstrap_new_ca(o, portcullis::testing::scratch_registry());
    authority_ = new Authority(Authority::load(CaPaths{o.ca_dir}));
  }
  static void TearDownTestSuite() {
    delete authority_;
    delete ca_dir_;
  }

  void SetUp() override {
    ledger_ = open_sqlite_ledger(dir_.path() + "/ledger.db");
    index_.load(*ledger_);
    registry_ = std::make_unique<Registry>(*ledger_, index_);
    issuer_ = std::make_unique<Issuer>(*authority_, default_profiles(), IssuerUrls{kCrl, kOcsp}, *registry_);
  }

  static IssueRequest request(std::string csr, std::string device = "laptop-1", std::string profile = "device") {
    IssueRequest r;
    r.csr = std::move(csr);
    r.profile = std::move(profile);
    r.names.subject = {{"CN", device}};
    r.device.name = std::move(device);
    r.device.create_if_missing = true;
    r.actor = "test";
    return r;
  }

  std::string verify(const X509* cert, int purpose = X509_PURPOSE_SSL_CLIENT) const {
    return testing::verify_chain(cert, authority_->root(), {authority_->issuing()}, purpose);
  }

  // Issuing `r` must be refused with a message containing `reason`, writing nothing.
  void expect_refused(const IssueRequest& r, const std::string& reason) {
    const std::size_t before = ledger_->certificate_count();
    try {
      issuer_->issue(r);
      ADD_FAILURE() << "expected IssuanceRejected(" << reason << ")";
    } catch (const IssuanceRejected& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
    EXPECT_EQ(ledger_->certificate_count(), before);
    EXPECT_FALSE(ledger_->find_device_by_name(r.device.name.value_or("")).has_value())
        << "a refused request must not create its device";
  }

  static TempDir* ca_dir_;
  static Authority* authority_;
  TempDir dir_;
  std::unique_ptr<Ledger> ledger_;
  IdentityIndex index_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<Issuer> issuer_;
};

TempDir* IssuerTest::ca_dir_ = nullptr;
Authority* IssuerTest::authority_ = nullptr;

TEST_F(IssuerTest, IssuesFromAnRsaCsr) {
  EvpPkeyPtr key = rsa_key(2048);
  const std::int64_t now = std::time(nullptr);
  IssueResult r = issuer_->issue(request(csr_pem(key.get())));
  const X509* cert = r.certificate.get();

  EXPECT_EQ(verify(cert), "ok");
  EXPECT_TRUE(r.device_created);
  EXPECT_EQ(r.device.name, "laptop-1");
  EXPECT_EQ(subject_string(cert), "CN=laptop-1");  // the device's name, not the CSR's CN=device-1
  EXPECT_EQ(r.left_out, std::vector<std::string>{"CN=device-1"});
  EXPECT_EQ(X509_check_private_key(cert, key.get()), 1);

  // Profile "device": clientAuth only, CA:FALSE critical, KU critical with keyEncipherment for RSA.
  EXPECT_EQ(testing::ext_key_usage(cert), static_cast<std::uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(X509_check_ca(const_cast<X509*>(cert)), 0);
  EXPECT_TRUE(testing::extension_critical(cert, NID_basic_constraints));
  EXPECT_TRUE(testing::extension_critical(cert, NID_key_usage));
  EXPECT_EQ(testing::key_usage(cert), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_TRUE(testing::has_extension(cert, NID_subject_key_identifier));
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(const_cast<X509*>(cert)),
                                  X509_get0_subject_key_id(const_cast<X509*>(authority_->issuing()))),
            0);
  EXPECT_TRUE(testing::has_extension(cert, NID_crl_distribution_points));
  EXPECT_TRUE(testing::has_extension(cert, NID_info_access));
  STACK_OF(OPENSSL_STRING)* ocsp = X509_get1_ocsp(const_cast<X509*>(cert));
  ASSERT_EQ(sk_OPENSSL_STRING_num(ocsp), 1);
  EXPECT_STREQ(sk_OPENSSL_STRING_value(ocsp, 0), kOcsp);
  X509_email_free(ocsp);

  // Serial: 16 bytes, positive (RFC 5280 §4.1.2.2).
  EXPECT_EQ(serial_bytes(cert).size(), 16U);
  EXPECT_EQ(ASN1_STRING_type(X509_get0_serialNumber(cert)), V_ASN1_INTEGER);

  // Validity: backdated 5 minutes, 365 days, inside the issuing CA's.
  EXPECT_NEAR(static_cast<double>(not_before_unix(cert)), static_cast<double>(now - 300), 5);
  EXPECT_NEAR(static_cast<double>(not_after_unix(cert) - not_before_unix(cert)), 365.0 * 86400 + 300, 5);
  EXPECT_LE(not_after_unix(cert), not_after_unix(authority_->issuing()));
  EXPECT_EQ(OBJ_obj2nid(X509_get0_tbs_sigalg(cert)->algorithm), NID_ecdsa_with_SHA256);

  // Ledger row and index entry.
  const auto row = ledger_->find_certificate(r.record.serial_hex);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->serial_hex, serial_hex(cert));
  EXPECT_EQ(row->device_id, r.device.id);
  EXPECT_EQ(row->profile, "device");
  EXPECT_EQ(row->sha256_fingerprint, sha256_fingerprint_hex(cert));
  EXPECT_EQ(row->der, cert_to_der(cert));
  EXPECT_EQ(r.record.device_id, r.device.id);
  EXPECT_EQ(ledger_->certificate_count(), 1U);
  const Identity id = index_.by_serial(serial_bytes(cert), now);
  EXPECT_EQ(id.verdict, IdentityVerdict::good);
  EXPECT_EQ(id.device_id, r.device.id);
}

// The names are the caller's (device, templates, pins); whatever else the CSR asks for is
// left out of the certificate and reported.
TEST_F(IssuerTest, IssuesTheGivenNamesAndReportsWhatTheCsrAskedForBeyondThem) {
  EvpPkeyPtr key = ec_key("P-256");
  testing::CsrSpec spec;
  spec.subject = {{"CN", "phone-7"}, {"O", "Acme"}, {"L", "Dropped City"}, {"OU", "Sales"}};
  spec.sans.push_back(dns_name("phone-7.example.com"));
  spec.sans.push_back(dns_name("admin.example.com"));
  spec.sans.push_back(ip_name("10.0.0.9"));
  IssueRequest req = request(csr_pem(key.get(), std::move(spec)), "phone-7");
  req.names.subject = {{"CN", "phone-7"}, {"O", "Acme"}};
  req.names.sans = {"dns:phone-7.example.com", "uri:IntuneDeviceId://0f2c9a7e-4b1d-4c8e-9a55-1e2f3a4b5c6d"};
  IssueResult r = issuer_->issue(req);
  const X509* cert = r.certificate.get();

  EXPECT_EQ(verify(cert), "ok");
  const std::vector<std::string> sans = {"DNS:phone-7.example.com",
                                         "URI:IntuneDeviceId://0f2c9a7e-4b1d-4c8e-9a55-1e2f3a4b5c6d"};
  EXPECT_EQ(subject_alt_names(cert), sans);
  EXPECT_EQ(r.record.sans, sans);
  EXPECT_EQ(ledger_->find_certificate(r.record.serial_hex)->sans, sans);
  EXPECT_EQ(subject_string(cert), "O=Acme,CN=phone-7");
  EXPECT_EQ(r.left_out, (std::vector<std::string>{"L=Dropped City", "OU=Sales", "dns:admin.example.com", "ip:10.0.0.9"}));
  EXPECT_EQ(testing::key_usage(cert), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
}

TEST_F(IssuerTest, RefusesNamesTheProfileDoesNotAllow) {
  EvpPkeyPtr key = ec_key("P-256");
  IssueRequest req = request(csr_pem(key.get()));
  req.names.sans = {"ip:10.0.0.9"};  // the device profile allows dns, email and uri
  expect_refused(req, "does not allow ip SANs");
  req.names.sans = {"dns:bad name"};
  expect_refused(req, "printable ASCII");
  req.names.sans = {};
  req.names.subject = {{"CN", "a"}, {"CN", "b"}};
  expect_refused(req, "exactly one CN");
}

TEST_F(IssuerTest, NamesFromTheProfilesTemplates) {
  Profile p = default_profiles().at("device");
  p.subject_template = {"CN={cn}", "O=Acme", "OU=Fleet {device}"};
  p.san_templates = {"dns:{device}.corp.example"};
  const IssuedNames n = names_from_templates(p, "ipad-7", "ipad-7.lab", {"email:ops@example.com"});
  EXPECT_EQ(n.subject, (std::vector<std::pair<std::string, std::string>>{
                           {"CN", "ipad-7.lab"}, {"O", "Acme"}, {"OU", "Fleet ipad-7"}}));
  EXPECT_EQ(n.sans, (std::vector<std::string>{"dns:ipad-7.corp.example", "email:ops@example.com"}));
}

TEST_F(IssuerTest, ServerProfileAndDerCsr) {
  EvpPkeyPtr key = ec_key("P-384");
  testing::CsrSpec spec;
  spec.subject = {{"CN", "vpn.example.com"}};
  spec.sans.push_back(dns_name("vpn.example.com"));
  spec.sans.push_back(ip_name("192.0.2.1"));
  spec.sans.push_back(uri_name("urn:dropped"));
  X509ReqPtr req = testing::make_csr(key.get(), std::move(spec));
  IssueRequest ir = request(testing::csr_der(req.get()), "vpn", "server");
  ir.names.subject = {{"CN", "vpn.example.com"}};
  ir.names.sans = {"dns:vpn.example.com", "ip:192.0.2.1"};
  IssueResult r = issuer_->issue(ir);
  EXPECT_EQ(verify(r.certificate.get(), X509_PURPOSE_SSL_SERVER), "ok");
  EXPECT_EQ(testing::ext_key_usage(r.certificate.get()), static_cast<std::uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(subject_alt_names(r.certificate.get()), (std::vector<std::string>{"DNS:vpn.example.com", "IP:192.0.2.1"}));
  EXPECT_NEAR(static_cast<double>(not_after_unix(r.certificate.get()) - not_before_unix(r.certificate.get())),
              730.0 * 86400 + 300, 5);
}

TEST_F(IssuerTest, ExistingDeviceById) {
  const Device d = registry_->create_device(NewDevice{"printer", "Printer", "ops", {}}, "test");
  EvpPkeyPtr key = ec_key("P-256");
  IssueRequest req = request(csr_pem(key.get()));
  req.device = DeviceRef{};
  req.device.id = d.id;
  IssueResult r = issuer_->issue(req);
  EXPECT_FALSE(r.device_created);
  EXPECT_EQ(r.device.id, d.id);
  EXPECT_EQ(ledger_->find_certificate(r.record.serial_hex)->device_id, d.id);
}

TEST_F(IssuerTest, RefusesCaTrue) {
  EvpPkeyPtr key = ec_key("P-256");
  testing::CsrSpec spec;
  spec.request_ca = true;
  expect_refused(request(csr_pem(key.get(), std::move(spec))), "CSR requests CA:true");
}

TEST_F(IssuerTest, RefusesWeakRsaKey) {
  EvpPkeyPtr key = rsa_key(1024);
  expect_refused(request(csr_pem(key.get())), "RSA key too small");
}

TEST_F(IssuerTest, RefusesCurveOutsideTheProfile) {
  EvpPkeyPtr key = ec_key("P-521");
  expect_refused(request(csr_pem(key.get())), "not allowed");
}

TEST_F(IssuerTest, RefusesUnsupportedKeyType) {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(key);
  X509ReqPtr req(X509_REQ_new());
  X509NamePtr name = make_name({{"CN", "ed"}});
  X509_REQ_set_subject_name(req.get(), name.get());
  X509_REQ_set_pubkey(req.get(), key.get());
  ASSERT_GT(X509_REQ_sign(req.get(), key.get(), nullptr), 0);
  expect_refused(request(csr_to_pem(req.get())), "unsupported key type");
}

TEST_F(IssuerTest, RefusesACorruptedSignature) {
  EvpPkeyPtr key = rsa_key(2048);
  X509ReqPtr req = testing::make_csr(key.get(), {});
  std::string der = testing::csr_der(req.get());
  der.back() = static_cast<char>(der.back() ^ 0x01);  // last byte of the signature value
  expect_refused(request(der), "signature does not verify");
}

TEST_F(IssuerTest, RefusesGarbage) {
  expect_refused(request("this is not a CSR"), "malformed CSR");
  expect_refused(request(std::string("\x30\x82\x10\x00\x01\x02", 6)), "malformed CSR");
  expect_refused(request(""), "malformed CSR");
}

TEST_F(IssuerTest, RefusesUnknownProfileAndMissingCn) {
  EvpPkeyPtr key = ec_key("P-256");
  expect_refused(request(csr_pem(key.get()), "laptop-1", "admin"), "unknown profile");
  IssueRequest no_cn = request(csr_pem(key.get()));
  no_cn.names.subject = {{"O", "Acme"}};
  expect_refused(no_cn, "exactly one CN");
}

TEST_F(IssuerTest, RefusesSanWithEmbeddedNul) {
  EvpPkeyPtr key = ec_key("P-256");
  IssueRequest req = request(csr_pem(key.get()));
  req.names.sans = {std::string("dns:evil.com\0.good.com", 22)};
  expect_refused(req, "printable ASCII");
}

TEST_F(IssuerTest, UnknownDeviceWithoutCreateWritesNothing) {
  EvpPkeyPtr key = ec_key("P-256");
  IssueRequest req = request(csr_pem(key.get()), "ghost");
  req.device.create_if_missing = false;
  EXPECT_THROW(issuer_->issue(req), LedgerNotFound);
  EXPECT_EQ(ledger_->certificate_count(), 0U);
}

TEST_F(IssuerTest, RetriesWithAFreshSerialOnDuplicate) {
  DuplicatingLedger dup(*ledger_, 2);
  Registry registry(dup, index_);
  Issuer issuer(*authority_, default_profiles(), IssuerUrls{kCrl, kOcsp}, registry);
  EvpPkeyPtr key = ec_key("P-256");
  IssueResult r = issuer.issue(request(csr_pem(key.get())));
  EXPECT_EQ(dup.calls, 3);
  EXPECT_EQ(ledger_->certificate_count(), 1U);
  EXPECT_TRUE(ledger_->find_certificate(r.record.serial_hex).has_value());
  EXPECT_EQ(verify(r.certificate.get()), "ok");
}

TEST_F(IssuerTest, GivesUpAfterBoundedRetries) {
  DuplicatingLedger dup(*ledger_, 1000);
  Registry registry(dup, index_);
  Issuer issuer(*authority_, default_profiles(), IssuerUrls{kCrl, kOcsp}, registry);
  EvpPkeyPtr key = ec_key("P-256");
  EXPECT_THROW(issuer.issue(request(csr_pem(key.get()))), DuplicateSerial);
  EXPECT_LE(dup.calls, 10);
  EXPECT_EQ(ledger_->certificate_count(), 0U);
}

TEST_F(IssuerTest, ConcurrentIssuanceGivesDistinctSerials) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  EvpPkeyPtr key = ec_key("P-256");
  const std::string csr = csr_pem(key.get());
  std::vector<std::vector<std::string>> serials(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < kPerThread; ++i) {
          serials[t].push_back(issuer_->issue(request(csr, "shared-device")).record.serial_hex);
        }
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> unique;
  for (const auto& v : serials) unique.insert(v.begin(), v.end());
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(ledger_->certificate_count(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(RandomSerial, SixteenBytesPositiveSecondBitSet) {
  std::set<Bytes> seen;
  for (int i = 0; i < 1000; ++i) {
    const Bytes s = random_serial();
    ASSERT_EQ(s.size(), 16U);
    EXPECT_EQ(s[0] & 0xC0, 0x40);
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 1000U);
}

TEST(IssuerConfig, RejectsAProfileWithAnUnknownEku) {
  TempDir dir;
  Profiles profiles = default_profiles();
  profiles["device"].extended_key_usage = {"teleportation"};
  BootstrapOptions o;
  o.ca_dir = dir.sub("ca");
  bootstrap_new_ca(o, portcullis::testing::scratch_registry());
  Authority a = Authority::load(CaPaths{o.ca_dir});
  std::unique_ptr<Ledger> ledger = open_sqlite_ledger(dir.path() + "/ledger.db");
  IdentityIndex index;
  Registry registry(*ledger, index);
  EXPECT_THROW(Issuer(a, profiles, IssuerUrls{}, registry), std::invalid_argument);
}

}  // namespace
}  // namespace portcullis::ca
