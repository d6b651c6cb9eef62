#include "radius/radsec/peer_auth.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <map>

namespace portcullis::radius::radsec {
namespace {

struct KeyAndCert {
  ca::EvpPkeyPtr key;
  ca::X509Ptr cert;
};

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ca::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  ASSERT_TRUE(ext);
  X509_add_ext(cert, ext.get(), -1);
}

// `issuer` null: self-signed CA.
KeyAndCert make_cert(const std::string& cn, const KeyAndCert* issuer, const char* san = nullptr) {
  KeyAndCert out{ca::EvpPkeyPtr(EVP_EC_gen("P-256")), ca::X509Ptr(X509_new())};
  X509* c = out.cert.get();
  X509_set_version(c, X509_VERSION_3);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(c), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(c), -60);
  X509_gmtime_adj(X509_getm_notAfter(c), 3600);
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer->cert.get()) : name);
  X509_set_pubkey(c, out.key.get());
  X509* signer_cert = issuer ? issuer->cert.get() : c;
  if (issuer == nullptr) {
    add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(c, c, NID_key_usage, "critical,keyCertSign");
  } else {
    add_ext(c, signer_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(c, signer_cert, NID_ext_key_usage, "clientAuth");
    if (san) add_ext(c, signer_cert, NID_subject_alt_name, san);
  }
  X509_sign(c, issuer ? issuer->key.get() : out.key.get(), EVP_sha256());
  return out;
}

std::array<std::uint8_t, 32> fingerprint(const X509* cert) {
  std::array<std::uint8_t, 32> fp{};
  unsigned len = 0;
  X509_digest(cert, EVP_sha256(), fp.data(), &len);
  return fp;
}

// The ledger's answers, by fingerprint.
class FakeIdentities : public ca::IdentityView {
 public:
  ca::Identity by_serial(std::span<const std::uint8_t>, ca::UnixTime) const override { return {}; }
  ca::Identity by_fingerprint(std::span<const std::uint8_t, 32> fp, ca::UnixTime) const override {
    std::array<std::uint8_t, 32> key{};
    std::memcpy(key.data(), fp.data(), 32);
    const auto it = known.find(key);
    return it == known.end() ? ca::Identity{} : it->second;
  }
  std::map<std::array<std::uint8_t, 32>, ca::Identity> known;
};

ca::Identity identity(ca::IdentityVerdict verdict, const std::string& device, const std::string& profile) {
  ca::Identity id;
  id.verdict = verdict;
  id.device_name = device;
  id.profile = profile;
  return id;
}

RadsecClient client(const std::string& name, const std::string& certificate_name) {
  RadsecClient c;
  c.nas.name = name;
  c.nas.secret = kRadsecSecret;
  c.certificate_name = certificate_name;
  return c;
}

const IpAddress kLoopback = *IpAddress::parse("127.0.0.1");

class PeerAuth : public ::testing::Test {
 protected:
  KeyAndCert our_ca = make_cert("Our Issuing CA", nullptr);
  KeyAndCert nas = make_cert("wlc-1", &our_ca);
  FakeIdentities ids;
  RadsecClients clients;
};

TEST_F(PeerAuth, OurNasCertificateNamesItsClientByDevice) {
  ids.known[fingerprint(nas.cert.get())] = identity(ca::IdentityVerdict::good, "wlc-1", "nas");
  clients.add(client("controller-1", "wlc-1"));
  const PeerVerdict v = clients.authorize(nas.cert.get(), nullptr, kLoopback, ids, 0);
  ASSERT_NE(v.client, nullptr) << v.reason;
  EXPECT_EQ(v.client->nas.name, "controller-1");
  EXPECT_TRUE(v.ours);
  EXPECT_TRUE(clients.still_good(v, ids, 0));

  // Revoked afterwards: the open connection is no longer good, a new one is refused.
  ids.known[fingerprint(nas.cert.get())] = identity(ca::IdentityVerdict::revoked, "wlc-1", "nas");
  EXPECT_FALSE(clients.still_good(v, ids, 0));
  const PeerVerdict again = clients.authorize(nas.cert.get(), nullptr, kLoopback, ids, 0);
  EXPECT_EQ(again.client, nullptr);
  EXPECT_EQ(again.verify_error, X509_V_ERR_CERT_REVOKED);
  EXPECT_NE(again.reason.find("revoked"), std::string::npos) << again.reason;
  // The refusal event's code, and who presented the certificate.
  EXPECT_STREQ(again.code, "revoked");
  EXPECT_EQ(again.cn, "wlc-1");
  EXPECT_EQ(again.device, "wlc-1");
  EXPECT_EQ(again.nas, "controller-1");
  EXPECT_EQ(again.serial, ca::serial_hex(nas.cert.get()));
  EXPECT_EQ(again.issuer, ca::name_to_string(X509_get_issuer_name(nas.cert.get())));
}

TEST_F(PeerAuth, OurDeviceCertificateIsNoNasCertificate) {
  ids.known[fingerprint(nas.cert.get())] = identity(ca::IdentityVerdict::good, "wlc-1", "device");
  clients.add(client("controller-1", "wlc-1"));
  const PeerVerdict v = clients.authorize(nas.cert.get(), nullptr, kLoopback, ids, 0);
  EXPECT_EQ(v.client, nullptr);
  EXPECT_EQ(v.verify_error, X509_V_ERR_INVALID_PURPOSE);
  EXPECT_STREQ(v.code, "not_nas_profile");
}

TEST_F(PeerAuth, OursButNamingNoClientIsRefused) {
  ids.known[fingerprint(nas.cert.get())] = identity(ca::IdentityVerdict::good, "wlc-9", "nas");
  clients.add(client("controller-1", "wlc-1"));
  const PeerVerdict v = clients.authorize(nas.cert.get(), nullptr, kLoopback, ids, 0);
  EXPECT_EQ(v.client, nullptr);
  EXPECT_STREQ(v.code, "no_client");
}

TEST_F(PeerAuth, SourceAddressNarrowsWhereTheNasMayConnectFrom) {
  ids.known[fingerprint(nas.cert.get())] = identity(ca::IdentityVerdict::good, "wlc-1", "nas");
  RadsecClient c = client("controller-1", "wlc-1");
  c.nas.address = "192.0.2.0/24";
  c.source = IpPrefix::parse("192.0.2.0/24");
  clients.add(std::move(c));
  const PeerVerdict elsewhere = clients.authorize(nas.cert.get(), nullptr, kLoopback, ids, 0);
  EXPECT_EQ(elsewhere.client, nullptr);
  EXPECT_STREQ(elsewhere.code, "source_address");
  EXPECT_NE(clients.authorize(nas.cert.get(), nullptr, *IpAddress::parse("192.0.2.7"), ids, 0).client, nullptr);
}

TEST_F(PeerAuth, ForeignCertificateNeedsTheCaConfiguredForThatClientAndItsName) {
  KeyAndCert corp_ca = make_cert("Corp CA", nullptr);
  KeyAndCert corp_nas = make_cert("gw-7", &corp_ca, "DNS:gw-7.corp.example");
  std::shared_ptr<X509_STORE> store(X509_STORE_new(), X509_STORE_free);
  X509_STORE_add_cert(store.get(), corp_ca.cert.get());

  RadsecClient by_san = client("gateway", "gw-7.corp.example");
  by_san.trusted_ca = store;
  clients.add(std::move(by_san));
  clients.add(client("controller-1", "wlc-1"));  // ours only: no trusted CA

  const PeerVerdict v = clients.authorize(corp_nas.cert.get(), nullptr, kLoopback, ids, 0);
  ASSERT_NE(v.client, nullptr) << v.reason;
  EXPECT_EQ(v.client->nas.name, "gateway");
  EXPECT_FALSE(v.ours);

  // Our CA's certificate that is not in the ledger (unknown to the index), and a foreign
  // one whose CA is not the configured one, are both refused.
  const PeerVerdict unknown = clients.authorize(nas.cert.get(), nullptr, kLoopback, ids, 0);
  EXPECT_EQ(unknown.client, nullptr);
  EXPECT_STREQ(unknown.code, "unknown_issuer");
  EXPECT_EQ(unknown.issuer, "CN=Our Issuing CA");
  KeyAndCert other_ca = make_cert("Other CA", nullptr);
  KeyAndCert impostor = make_cert("gw-7.corp.example", &other_ca);
  const PeerVerdict refused = clients.authorize(impostor.cert.get(), nullptr, kLoopback, ids, 0);
  EXPECT_EQ(refused.client, nullptr);
  EXPECT_NE(refused.reason.find("does not verify"), std::string::npos) << refused.reason;
  EXPECT_STREQ(refused.code, "untrusted_certificate");
}

TEST(RadsecClients, CertificateNamesAreUnique) {
  RadsecClients clients;
  clients.add(client("a", "wlc-1"));
  EXPECT_THROW(clients.add(client("b", "wlc-1")), std::invalid_argument);
  EXPECT_THROW(clients.add(client("c", "")), std::invalid_argument);
}

}  // namespace
}  // namespace portcullis::radius::radsec
