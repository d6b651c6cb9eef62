// A real CA for the fuzz targets that need one (SCEP, OCSP, CSRs, EAP-TLS): bootstrapped
// once per fuzzing process, keys and all, in a temp dir removed at exit, with its own
// SQLite ledger, identity index, Registry and Issuer. No key is kept in the repository:
// seeds that must reach past the RA's decryption hold the envelope content, which the
// targets encrypt to this CA's RA (support/scep_wrap.hpp).
#pragma once

#include "ca/authority.hpp"
#include "ca/identity_index.hpp"
#include "ca/issuer.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/profile.hpp"
#include "ca/registry.hpp"
#include "tests/unit/support/scratch_registry.hpp"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace portcullis::fuzz {

class CaStack {
 public:
  static CaStack& get() {
    static CaStack* stack = new CaStack();  // never destroyed: libFuzzer exits from anywhere
    return *stack;
  }

  ca::Authority& authority() { return *authority_; }
  ca::Ledger& ledger() { return *ledger_; }
  ca::IdentityIndex& index() { return index_; }
  ca::Registry& registry() { return *registry_; }
  ca::Issuer& issuer() { return *issuer_; }
  const std::string& dir() const { return dir_; }

 private:
  CaStack() {
    std::string pattern = (std::filesystem::temp_directory_path() / "portcullis-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    static std::string removed_at_exit;
    removed_at_exit = dir_;
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(removed_at_exit, ignored);
    });
    const std::string ca_dir = dir_ + "/ca";
    ca::BootstrapOptions o;
    o.ca_dir = ca_dir;
    std::filesystem::create_directories(o.ca_dir);
    o.crl_url = "http://pki.test/crl";
    o.ocsp_url = "http://pki.test/ocsp";
    ca::bootstrap_new_ca(o, portcullis::testing::scratch_registry());
    authority_ = std::make_unique<ca::Authority>(ca::Authority::load(ca::CaPaths{ca_dir}));
    ledger_ = ca::open_sqlite_ledger(dir_ + "/ledger.db");
    index_.load(*ledger_);
    registry_ = std::make_unique<ca::Registry>(*ledger_, index_);
    issuer_ = std::make_unique<ca::Issuer>(*authority_, ca::default_profiles(),
                                           ca::IssuerUrls{"http://pki.test/crl", "http://pki.test/ocsp"}, *registry_);
  }

  std::string dir_;
  std::unique_ptr<ca::Authority> authority_;
  std::unique_ptr<ca::Ledger> ledger_;
  ca::IdentityIndex index_;
  std::unique_ptr<ca::Registry> registry_;
  std::unique_ptr<ca::Issuer> issuer_;
};

}  // namespace portcullis::fuzz
