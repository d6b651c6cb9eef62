// ca/authority + ca/bootstrap: the three ways to get a CA (fresh, imported, pending then
// installed), what each certificate contains, file permissions, and Authority::load.
#include "ca/authority.hpp"

#include "ca/cert_builder.hpp"
#include "ca/issuer.hpp"
#include "ca/keys.hpp"
#include "signing_support.hpp"
#include "tests/unit/support/scratch_registry.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>

namespace portcullis::ca {
namespace {

using testing::TempDir;

BootstrapOptions options_for(const std::string& ca_dir, KeyType type) {
  BootstrapOptions o;
  o.ca_dir = ca_dir;
  o.key_type = type;
  o.hostname = "radius.example.net";
  o.organization = "Acme";
  o.crl_url = "http://pki.example.net/crl";
  o.ocsp_url = "http://pki.example.net/ocsp";
  return o;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string common_name(const X509* cert) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

void expect_private_modes(const CaPaths& p, bool with_root_key) {
  for (const auto& key : {p.issuing_key(), p.ra_key(), p.server_key(), p.admin_key()}) {
    EXPECT_EQ(testing::file_mode(key), 0600U) << key;
  }
  if (with_root_key) {
    EXPECT_EQ(testing::file_mode(p.root_key()), 0600U);
  }
  for (const auto& pub : {p.root(), p.issuing(), p.chain(), p.ra(), p.server(), p.admin()}) {
    EXPECT_EQ(testing::file_mode(pub), 0644U) << pub;
  }
}

// The service certificates every CA variant produces, checked against a given root.
void expect_service_certificates(const CaPaths& p, const BootstrapOptions& o, const X509* root) {
  Authority a = Authority::load(p);
  std::vector<const X509*> untrusted;
  for (const auto& c : a.chain()) untrusted.push_back(c.get());

  // SCEP RA: RSA-2048, digitalSignature + keyEncipherment, not a CA (RFC 8894 §3.2.2).
  EXPECT_EQ(testing::verify_chain(a.ra(), root, untrusted), "ok");
  EXPECT_TRUE(is_rsa(a.ra_key()));
  EXPECT_EQ(EVP_PKEY_get_bits(a.ra_key()), 2048);
  EXPECT_EQ(testing::key_usage(a.ra()) & (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT),
            static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(testing::key_usage(a.ra()) & KU_KEY_CERT_SIGN, 0U);
  EXPECT_EQ(X509_check_ca(const_cast<X509*>(a.ra())), 0);
  EXPECT_EQ(common_name(a.ra()), o.organization + " SCEP RA");

  // EAP/RADIUS server: serverAuth, SAN = hostname, CN = hostname.
  EXPECT_EQ(testing::verify_chain(a.server(), root, untrusted, X509_PURPOSE_SSL_SERVER), "ok");
  EXPECT_TRUE(testing::ext_key_usage(a.server()) & XKU_SSL_SERVER);
  EXPECT_TRUE(contains(subject_alt_names(a.server()), "DNS:" + o.hostname));
  EXPECT_EQ(common_name(a.server()), o.hostname);
  EXPECT_EQ(X509_check_host(const_cast<X509*>(a.server()), o.hostname.c_str(), 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ca(const_cast<X509*>(a.server())), 0);

  // Admin HTTPS: also reachable as localhost and the loopback addresses.
  X509Ptr admin = testing::load_pem_cert(p.admin());
  EvpPkeyPtr admin_key = key_from_pem(read_file(p.admin_key()));
  EXPECT_TRUE(key_matches_certificate(admin.get(), admin_key.get()));
  EXPECT_EQ(testing::verify_chain(admin.get(), root, untrusted, X509_PURPOSE_SSL_SERVER), "ok");
  const auto admin_sans = subject_alt_names(admin.get());
  for (const std::string& s : {"DNS:" + o.hostname, std::string("DNS:localhost"), std::string("IP:127.0.0.1"),
                               std::string("IP:::1")}) {
    EXPECT_TRUE(contains(admin_sans, s)) << s;
  }

  for (const X509* leaf : {a.ra(), a.server(), static_cast<const X509*>(admin.get())}) {
    EXPECT_TRUE(testing::has_extension(leaf, NID_crl_distribution_points));
    EXPECT_TRUE(testing::has_extension(leaf, NID_info_access));
    EXPECT_TRUE(testing::has_extension(leaf, NID_authority_key_identifier));
    EXPECT_TRUE(testing::has_extension(leaf, NID_subject_key_identifier));
    EXPECT_EQ(serial_bytes(leaf).size(), 16U);
    EXPECT_LE(not_after_unix(leaf), not_after_unix(a.issuing()));
  }
}

class NewCa : public ::testing::TestWithParam<KeyType> {};

TEST_P(NewCa, BootstrapsAndLoads) {
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), GetParam());
  bootstrap_new_ca(o, portcullis::testing::scratch_registry());
  const CaPaths p{o.ca_dir};
  EXPECT_FALSE(ca_is_pending(p));
  expect_private_modes(p, true);

  Authority a = Authority::load(p);
  ASSERT_EQ(a.chain().size(), 2U);
  EXPECT_EQ(X509_cmp(a.chain()[0].get(), a.issuing()), 0);
  EXPECT_EQ(X509_cmp(a.chain()[1].get(), a.root()), 0);
  EXPECT_TRUE(key_matches_certificate(a.issuing(), a.issuing_key()));
  EXPECT_EQ(EVP_MD_get_type(a.signing_digest()), GetParam() == KeyType::ec_p384 ? NID_sha384 : NID_sha256);
  EXPECT_EQ(testing::verify_chain(a.issuing(), a.root(), {}), "ok");
  EXPECT_EQ(testing::verify_chain(a.server(), a.root(), {a.issuing()}), "ok");
}

INSTANTIATE_TEST_SUITE_P(AllKeyTypes, NewCa,
                         ::testing::Values(KeyType::ec_p256, KeyType::ec_p384, KeyType::rsa2048, KeyType::rsa3072),
                         [](const auto& info) {
                           std::string n = to_string(info.param);
                           n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
                           return n;
                         });

// One path to a signature: the RA, EAP server and admin certificates are issued through
// the Issuer into the ledger, so they can be listed, revoked and answered by OCSP.
TEST(ServiceCertificates, AreIssuedIntoTheLedgerAndRevocable) {
  TempDir dir;
  auto ledger = open_sqlite_ledger(dir.path() + "/ledger.db");
  IdentityIndex index;
  Registry registry(*ledger, index);
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  bootstrap_new_ca(o, registry);
  const CaPaths p{o.ca_dir};
  const auto now = static_cast<UnixTime>(std::time(nullptr));
  const std::vector<std::pair<std::string, const char*>> expected = {
      {p.ra(), kRaProfile}, {p.server(), kEapServerProfile}, {p.admin(), kAdminServerProfile}};
  for (const auto& [file, profile] : expected) {
    const X509Ptr cert = cert_from_pem(read_file(file));
    const auto row = ledger->find_certificate(serial_hex(cert.get()));
    ASSERT_TRUE(row) << file;
    EXPECT_EQ(row->profile, profile);
    EXPECT_EQ(row->der, cert_to_der(cert.get()));
    EXPECT_EQ(ledger->find_device(row->device_id)->name, kServiceDevice);
    const Identity id = index.by_fingerprint(sha256(cert_to_der(cert.get())), now);
    EXPECT_EQ(id.verdict, IdentityVerdict::good) << file;
  }
  EXPECT_EQ(ledger->certificate_count(), 3U);
  const X509Ptr ra = cert_from_pem(read_file(p.ra()));
  registry.revoke(serial_hex(ra.get()), RevocationReason::key_compromise, now, "test");
  EXPECT_EQ(index.by_serial_hex(serial_hex(ra.get()), now).verdict, IdentityVerdict::revoked);
}

class NewCaDetails : public ::testing::TestWithParam<KeyType> {};

TEST_P(NewCaDetails, CertificatesCarryTheRightExtensions) {
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), GetParam());
  bootstrap_new_ca(o, portcullis::testing::scratch_registry());
  const CaPaths p{o.ca_dir};
  Authority a = Authority::load(p);
  const std::int64_t now = std::time(nullptr);

  // Root: self-signed, CA:TRUE critical, keyCertSign + cRLSign, SKI, ~20 years.
  const X509* root = a.root();
  EXPECT_EQ(X509_check_issued(const_cast<X509*>(root), const_cast<X509*>(root)), X509_V_OK);
  EXPECT_EQ(X509_check_ca(const_cast<X509*>(root)), 1);
  EXPECT_TRUE(testing::extension_critical(root, NID_basic_constraints));
  EXPECT_EQ(testing::key_usage(root), static_cast<std::uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_TRUE(testing::extension_critical(root, NID_key_usage));
  EXPECT_TRUE(testing::has_extension(root, NID_subject_key_identifier));
  EXPECT_NEAR(static_cast<double>(not_after_unix(root) - now), 20.0 * 365 * 86400, 86400);

  // Issuing: CA:TRUE pathlen:0, keyCertSign + cRLSign + digitalSignature (OCSP), SKI/AKI.
  const X509* issuing = a.issuing();
  EXPECT_EQ(X509_check_ca(const_cast<X509*>(issuing)), 1);
  EXPECT_EQ(X509_get_pathlen(const_cast<X509*>(issuing)), 0);
  EXPECT_TRUE(testing::extension_critical(issuing, NID_basic_constraints));
  EXPECT_EQ(testing::key_usage(issuing),
            static_cast<std::uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE));
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(const_cast<X509*>(issuing));
  const ASN1_OCTET_STRING* root_ski = X509_get0_subject_key_id(const_cast<X509*>(root));
  ASSERT_NE(aki, nullptr);
  ASSERT_NE(root_ski, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki, root_ski), 0);
  EXPECT_NEAR(static_cast<double>(not_after_unix(issuing) - now), 10.0 * 365 * 86400, 86400);

  // Server key follows the chosen key type.
  EXPECT_EQ(is_rsa(a.server_key()), GetParam() == KeyType::rsa2048);
  if (GetParam() == KeyType::rsa2048) {
    EXPECT_TRUE(testing::key_usage(a.server()) & KU_KEY_ENCIPHERMENT);
  } else {
    EXPECT_EQ(ec_curve_name(a.server_key()), "P-256");
    EXPECT_FALSE(testing::key_usage(a.server()) & KU_KEY_ENCIPHERMENT);
  }

  expect_service_certificates(p, o, a.root());
}

INSTANTIATE_TEST_SUITE_P(P256AndRsa2048, NewCaDetails, ::testing::Values(KeyType::ec_p256, KeyType::rsa2048),
                         [](const auto& info) { return info.param == KeyType::ec_p256 ? "p256" : "rsa2048"; });

TEST(Bootstrap, IpHostnameGetsAnIpSan) {
  TempDir dir;
  BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  o.hostname = "192.0.2.10";
  bootstrap_new_ca(o, portcullis::testing::scratch_registry());
  Authority a = Authority::load(CaPaths{o.ca_dir});
  const auto sans = subject_alt_names(a.server());
  EXPECT_TRUE(contains(sans, "IP:192.0.2.10"));
  EXPECT_EQ(X509_check_ip_asc(const_cast<X509*>(a.server()), "192.0.2.10", 0), 1);
}

TEST(Bootstrap, NoUrlsMeansNoCdpOrAia) {
  TempDir dir;
  BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  o.crl_url.clear();
  o.ocsp_url.clear();
  bootstrap_new_ca(o, portcullis::testing::scratch_registry());
  Authority a = Authority::load(CaPaths{o.ca_dir});
  EXPECT_FALSE(testing::has_extension(a.server(), NID_crl_distribution_points));
  EXPECT_FALSE(testing::has_extension(a.server(), NID_info_access));
}

TEST(Load, NamesTheFileThatFailed) {
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  bootstrap_new_ca(o, portcullis::testing::scratch_registry());
  const CaPaths p{o.ca_dir};

  std::filesystem::remove(p.ra());
  try {
    Authority::load(p);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(p.ra()), std::string::npos) << e.what();
  }

  write_file(p.ra(), "garbage");
  try {
    Authority::load(p);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(p.ra()), std::string::npos) << e.what();
  }
}

TEST(Load, RejectsAnIssuingKeyThatDoesNotMatch) {
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  bootstrap_new_ca(o, portcullis::testing::scratch_registry());
  const CaPaths p{o.ca_dir};
  EvpPkeyPtr other = generate_key(KeyType::ec_p256);
  write_file(p.issuing_key(), key_to_pem(other.get()), 0600);
  try {
    Authority::load(p);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(p.issuing_key()), std::string::npos) << what;
    EXPECT_EQ(what.find("PRIVATE KEY"), std::string::npos) << "no key material in messages";
  }
}

// Every private key `serve` loads through Authority is refused once group or others may
// read it, naming the file and the chmod that fixes it.
TEST(Load, RefusesKeysThatOthersCanRead) {
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  bootstrap_new_ca(o, portcullis::testing::scratch_registry());
  const CaPaths p{o.ca_dir};
  for (const std::string& key : {p.issuing_key(), p.ra_key(), p.server_key()}) {
    ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
    try {
      Authority::load(p);
      ADD_FAILURE() << "loaded with " << key << " at 0644";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("chmod 600 " + key), std::string::npos) << e.what();
    }
    ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  }
  EXPECT_NO_THROW(Authority::load(p));
}

// An "enterprise" PKI made with our own bootstrap: root + issuing CA with keys on disk.
struct EnterprisePki {
  TempDir dir;
  BootstrapOptions options = options_for(dir.sub("enterprise"), KeyType::ec_p384);
  CaPaths paths{options.ca_dir};
  EnterprisePki() { bootstrap_new_ca(options, portcullis::testing::scratch_registry()); }
};

TEST(ImportedCa, UsesTheGivenIssuingCa) {
  EnterprisePki corp;
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  bootstrap_imported_ca(o, portcullis::testing::scratch_registry(), corp.paths.issuing(), corp.paths.issuing_key(), corp.paths.chain());
  const CaPaths p{o.ca_dir};
  expect_private_modes(p, false);
  EXPECT_FALSE(std::filesystem::exists(p.root_key())) << "we never hold the enterprise root key";

  Authority a = Authority::load(p);
  X509Ptr corp_root = testing::load_pem_cert(corp.paths.root());
  X509Ptr corp_issuing = testing::load_pem_cert(corp.paths.issuing());
  EXPECT_EQ(X509_cmp(a.issuing(), corp_issuing.get()), 0);
  EXPECT_EQ(X509_cmp(a.root(), corp_root.get()), 0);
  EXPECT_EQ(EVP_MD_get_type(a.signing_digest()), NID_sha384);  // imported P-384 key
  expect_service_certificates(p, o, corp_root.get());
}

TEST(ImportedCa, ChainWithoutTheIssuingCertAlsoWorks) {
  EnterprisePki corp;
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  bootstrap_imported_ca(o, portcullis::testing::scratch_registry(), corp.paths.issuing(), corp.paths.issuing_key(), corp.paths.root());
  Authority a = Authority::load(CaPaths{o.ca_dir});
  EXPECT_EQ(a.chain().size(), 2U);
}

TEST(ImportedCa, RefusesBadInput) {
  EnterprisePki corp;
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  // Key of another certificate.
  EXPECT_THROW(bootstrap_imported_ca(o, portcullis::testing::scratch_registry(), corp.paths.issuing(), corp.paths.server_key(), corp.paths.chain()),
               std::runtime_error);
  // Not a CA certificate.
  EXPECT_THROW(bootstrap_imported_ca(o, portcullis::testing::scratch_registry(), corp.paths.server(), corp.paths.server_key(), corp.paths.chain()),
               std::runtime_error);
  // A chain that does not lead to the issuer's root.
  EnterprisePki other;
  EXPECT_THROW(bootstrap_imported_ca(o, portcullis::testing::scratch_registry(), corp.paths.issuing(), corp.paths.issuing_key(), other.paths.root()),
               std::runtime_error);
  // A chain without any self-signed root.
  EXPECT_THROW(bootstrap_imported_ca(o, portcullis::testing::scratch_registry(), corp.paths.issuing(), corp.paths.issuing_key(), corp.paths.issuing()),
               std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(CaPaths{o.ca_dir}.issuing_key())) << "nothing written on refusal";
}

// Signs the pending CSR the way a corporate root would (CA:TRUE pathlen:0).
std::string sign_pending_csr(const CaPaths& pending, const EnterprisePki& corp, const std::string& out_path) {
  X509ReqPtr req = csr_from_pem_or_der(read_file(pending.issuing_csr()));
  X509Ptr root = testing::load_pem_cert(corp.paths.root());
  EvpPkeyPtr root_key = key_from_pem(read_file(corp.paths.root_key()));
  const std::int64_t now = std::time(nullptr);
  X509Ptr cert = new_certificate(random_serial(), X509_REQ_get_subject_name(req.get()), X509_get_subject_name(root.get()),
                                 X509_REQ_get0_pubkey(req.get()), now - 60, now + 5 * 365 * 86400);
  add_basic_constraints(cert.get(), true, 0L);
  add_key_usage(cert.get(), {ku_digital_signature, ku_key_cert_sign, ku_crl_sign});
  add_subject_key_identifier(cert.get());
  add_authority_key_identifier(cert.get(), root.get());
  sign_certificate(cert.get(), root_key.get(), EVP_sha384());
  write_file(out_path, cert_to_pem(cert.get()));
  return out_path;
}

TEST(PendingCa, CsrThenInstall) {
  EnterprisePki corp;
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  const CaPaths p{o.ca_dir};
  bootstrap_pending_ca(o);
  EXPECT_TRUE(ca_is_pending(p));
  EXPECT_EQ(testing::file_mode(p.issuing_key()), 0600U);
  EXPECT_THROW(Authority::load(p), std::runtime_error);

  // The CSR asks for CA:TRUE pathlen:0 and is signed by the pending key.
  X509ReqPtr req = csr_from_pem_or_der(read_file(p.issuing_csr()));
  EXPECT_EQ(X509_REQ_verify(req.get(), X509_REQ_get0_pubkey(req.get())), 1);
  X509ExtensionStackPtr exts(X509_REQ_get_extensions(req.get()));
  ASSERT_TRUE(exts);
  BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(X509V3_get_d2i(exts.get(), NID_basic_constraints, nullptr, nullptr)));
  ASSERT_TRUE(bc);
  EXPECT_TRUE(bc->ca);
  ASSERT_NE(bc->pathlen, nullptr);
  EXPECT_EQ(ASN1_INTEGER_get(bc->pathlen), 0);

  // A certificate for some other key is refused and the CA stays pending.
  EXPECT_THROW(install_issuing_certificate(o, portcullis::testing::scratch_registry(), corp.paths.issuing(), corp.paths.chain()), std::runtime_error);
  EXPECT_TRUE(ca_is_pending(p));

  const std::string signed_cert = sign_pending_csr(p, corp, dir.path() + "/signed.pem");
  install_issuing_certificate(o, portcullis::testing::scratch_registry(), signed_cert, corp.paths.root());
  EXPECT_FALSE(ca_is_pending(p));
  EXPECT_FALSE(std::filesystem::exists(p.issuing_csr()));
  expect_private_modes(p, false);

  X509Ptr corp_root = testing::load_pem_cert(corp.paths.root());
  Authority a = Authority::load(p);
  EXPECT_EQ(X509_cmp(a.root(), corp_root.get()), 0);
  EXPECT_EQ(testing::verify_chain(a.issuing(), corp_root.get(), {}), "ok");
  expect_service_certificates(p, o, corp_root.get());
}

TEST(PendingCa, InstallWithoutPendingCsrIsRefused) {
  EnterprisePki corp;
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  EXPECT_THROW(install_issuing_certificate(o, portcullis::testing::scratch_registry(), corp.paths.issuing(), corp.paths.chain()), std::runtime_error);
}

// CA rollover staging (RFC 8894 §4.7): a complete second CA layout under <ca>/next.
TEST(Rollover, StagesANewIssuingCaUnderTheSameRoot) {
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p384);
  bootstrap_new_ca(o, portcullis::testing::scratch_registry());
  const CaPaths current{o.ca_dir};
  EXPECT_FALSE(rollover_is_staged(current));
  EXPECT_FALSE(Authority::load_staged(current).has_value());

  stage_rollover(o, portcullis::testing::scratch_registry());
  ASSERT_TRUE(rollover_is_staged(current));
  const CaPaths staged = staged_ca_paths(current);
  expect_private_modes(staged, false);
  EXPECT_FALSE(std::filesystem::exists(staged.root_key())) << "the root key stays where it is";
  EXPECT_FALSE(std::filesystem::exists(current.dir + "/next.partial"));

  const Authority now = Authority::load(current);
  const std::optional<Authority> next = Authority::load_staged(current);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(X509_cmp(next->root(), now.root()), 0);
  EXPECT_NE(X509_cmp(next->issuing(), now.issuing()), 0);
  EXPECT_FALSE(key_matches_certificate(now.issuing(), next->issuing_key())) << "a rollover needs a new key";
  EXPECT_NE(common_name(next->issuing()), common_name(now.issuing()));
  EXPECT_EQ(ec_curve_name(next->issuing_key()), "P-384") << "same key type as the current issuing CA";
  EXPECT_EQ(testing::verify_chain(next->issuing(), now.root(), {}), "ok");
  EXPECT_EQ(X509_check_ca(const_cast<X509*>(next->issuing())), 1);
  EXPECT_LE(not_after_unix(next->issuing()), not_after_unix(now.root()));
  expect_service_certificates(staged, o, now.root());

  // Staging twice is refused and leaves the first staged CA alone; discard removes it.
  const std::string first = sha256_fingerprint_hex(next->issuing());
  EXPECT_THROW(stage_rollover(o, portcullis::testing::scratch_registry()), std::runtime_error);
  EXPECT_EQ(sha256_fingerprint_hex(Authority::load_staged(current)->issuing()), first);
  discard_rollover(current);
  EXPECT_FALSE(rollover_is_staged(current));
  EXPECT_EQ(sha256_fingerprint_hex(Authority::load(current).issuing()), sha256_fingerprint_hex(now.issuing()));
}

TEST(Rollover, LeftoverPartialFolderIsStartedOver) {
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  bootstrap_new_ca(o, portcullis::testing::scratch_registry());
  const CaPaths current{o.ca_dir};
  std::filesystem::create_directory(current.dir + "/next.partial");
  write_file(current.dir + "/next.partial/issuing.pem", "half-written");
  stage_rollover(o, portcullis::testing::scratch_registry());
  EXPECT_NO_THROW(Authority::load_staged(current));
  EXPECT_FALSE(std::filesystem::exists(current.dir + "/next.partial"));
}

TEST(Rollover, ImportedCaStagesOnlyWhatItsRootSigned) {
  EnterprisePki corp;
  TempDir dir;
  const BootstrapOptions o = options_for(dir.sub("ca"), KeyType::ec_p256);
  bootstrap_imported_ca(o, portcullis::testing::scratch_registry(), corp.paths.issuing(), corp.paths.issuing_key(), corp.paths.chain());
  const CaPaths current{o.ca_dir};
  EXPECT_THROW(stage_rollover(o, portcullis::testing::scratch_registry()), std::runtime_error) << "no root key here";
  EXPECT_THROW(stage_imported_rollover(o, portcullis::testing::scratch_registry(), corp.paths.issuing(), corp.paths.issuing_key(), corp.paths.chain()),
               std::runtime_error)
      << "the current issuing CA is not a rollover";
  EXPECT_FALSE(rollover_is_staged(current));

  // The enterprise root (our bootstrap_new_ca stands in for it) signs its next issuing CA.
  BootstrapOptions corp_options = corp.options;
  stage_rollover(corp_options, portcullis::testing::scratch_registry());
  const CaPaths corp_next = staged_ca_paths(corp.paths);
  stage_imported_rollover(o, portcullis::testing::scratch_registry(), corp_next.issuing(), corp_next.issuing_key(), corp_next.chain());
  const std::optional<Authority> next = Authority::load_staged(current);
  ASSERT_TRUE(next.has_value());
  X509Ptr corp_next_issuing = testing::load_pem_cert(corp_next.issuing());
  EXPECT_EQ(X509_cmp(next->issuing(), corp_next_issuing.get()), 0);
  X509Ptr corp_root = testing::load_pem_cert(corp.paths.root());
  expect_service_certificates(staged_ca_paths(current), o, corp_root.get());
}

TEST(KeyTypes, ParseAndPrint) {
  for (KeyType t : {KeyType::ec_p256, KeyType::ec_p384, KeyType::rsa2048, KeyType::rsa3072}) {
    EXPECT_EQ(parse_key_type(to_string(t)), t);
  }
  EXPECT_THROW(parse_key_type("dsa"), std::invalid_argument);
  EXPECT_EQ(ec_curve_name(generate_key(KeyType::ec_p384).get()), "P-384");
  EXPECT_EQ(EVP_PKEY_get_bits(generate_key(KeyType::rsa3072).get()), 3072);
  for (KeyType t : {KeyType::ec_p256, KeyType::ec_p384, KeyType::rsa2048, KeyType::rsa3072}) {
    EXPECT_EQ(key_type_of(generate_key(t).get()), t);
  }
}

}  // namespace
}  // namespace portcullis::ca
