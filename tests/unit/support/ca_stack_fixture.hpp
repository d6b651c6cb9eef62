// A real CA for unit tests of the front ends (app/, scep/): bootstrapped once per test
// suite into a temp dir (key generation is the slow part), plus a fresh SQLite ledger,
// identity index, Registry and Issuer per test. Also CSRs built with OpenSSL APIs.
#pragma once

#include "ca/authority.hpp"
#include "ca/identity_index.hpp"
#include "ca/issuer.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/profile.hpp"
#include "ca/registry.hpp"
#include "ca/x509.hpp"
#include "tests/unit/support/scratch_registry.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace portcullis::testing {

inline std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "portcullis-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

// A PKCS#10 request with CN=`cn` on a fresh P-256 key, optionally asking for CA:true
// (which the CA must refuse).
inline std::string make_csr(const std::string& cn, bool request_ca = false) {
  ca::EvpPkeyPtr key(ca::check_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "keygen"));
  ca::X509ReqPtr req(ca::check_ptr(X509_REQ_new(), "X509_REQ_new"));
  ca::check(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1), "version");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  ca::check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()),
                                       -1, -1, 0),
            "CN");
  ca::check(X509_REQ_set_pubkey(req.get(), key.get()), "pubkey");
  if (request_ca) {
    ca::X509ExtensionStackPtr exts(ca::check_ptr(sk_X509_EXTENSION_new_null(), "stack"));
    ca::X509ExtensionPtr bc(
        ca::check_ptr(X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE"), "bc"));
    ca::check(sk_X509_EXTENSION_push(exts.get(), bc.get()) > 0, "push");
    bc.release();
    ca::check(X509_REQ_add_extensions(req.get(), exts.get()), "extensions");
  }
  ca::check(X509_REQ_sign(req.get(), key.get(), EVP_sha256()) > 0, "sign");
  return ca::csr_to_pem(req.get());
}

class CaStackFixture : public ::testing::Test {
 protected:
  static constexpr const char* kCrlUrl = "http://pki.test/crl";
  static constexpr const char* kOcspUrl = "http://pki.test/ocsp";

  static void SetUpTestSuite() {
    ca_dir_ = new std::string(make_temp_dir());
    ca::BootstrapOptions o;
    o.ca_dir = *ca_dir_ + "/ca";
    std::filesystem::create_directories(o.ca_dir);
    o.crl_url = kCrlUrl;
    o.ocsp_url = kOcspUrl;
    ca::bootstrap_new_ca(o, portcullis::testing::scratch_registry());
    authority_ = new ca::Authority(ca::Authority::load(ca::CaPaths{o.ca_dir}));
  }
  static void TearDownTestSuite() {
    delete authority_;
    authority_ = nullptr;
    std::filesystem::remove_all(*ca_dir_);
    delete ca_dir_;
    ca_dir_ = nullptr;
  }

  void SetUp() override {
    dir_ = make_temp_dir();
    ledger_ = ca::open_sqlite_ledger(dir_ + "/ledger.db");
    index_.load(*ledger_);
    registry_ = std::make_unique<ca::Registry>(*ledger_, index_);
    issuer_ = std::make_unique<ca::Issuer>(*authority_, ca::default_profiles(), ca::IssuerUrls{kCrlUrl, kOcspUrl},
                                           *registry_);
  }
  void TearDown() override {
    issuer_.reset();
    registry_.reset();
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }

  static ca::UnixTime now() { return static_cast<ca::UnixTime>(std::time(nullptr)); }

  inline static std::string* ca_dir_ = nullptr;
  inline static ca::Authority* authority_ = nullptr;
  std::string dir_;
  std::unique_ptr<ca::Ledger> ledger_;
  ca::IdentityIndex index_;
  std::unique_ptr<ca::Registry> registry_;
  std::unique_ptr<ca::Issuer> issuer_;
};

}  // namespace portcullis::testing
