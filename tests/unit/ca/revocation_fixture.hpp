// Shared set-up for the CRL and OCSP tests: one real CA bootstrapped into a temp dir per
// test process (key generation is the slow part), and per test a fresh SQLite ledger with
// the in-memory index and the Registry in front of it, exactly as the service wires them.
#pragma once

#include "ca/authority.hpp"
#include "ca/cert_builder.hpp"
#include "ca/identity_index.hpp"
#include "ca/keys.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/registry.hpp"
#include "ca/x509.hpp"
#include "tests/unit/support/scratch_registry.hpp"

#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

namespace portcullis::ca::test {

inline std::filesystem::path make_temp_dir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

// The process-wide test CA; removed from disk when the process exits.
struct TestCa {
  std::filesystem::path dir;
  Authority authority;

  TestCa() : dir(make_temp_dir("portcullis-revocation")), authority(create(dir)) {}
  ~TestCa() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  static Authority create(const std::filesystem::path& dir) {
    BootstrapOptions options;
    options.ca_dir = (dir / "ca").string();
    std::filesystem::create_directories(options.ca_dir);
    options.organization = "Portcullis Revocation Tests";
    bootstrap_new_ca(options, portcullis::testing::scratch_registry());
    return Authority::load(CaPaths{options.ca_dir});
  }
};

inline const TestCa& test_ca() {
  static const TestCa ca;
  return ca;
}

// 16 random bytes, positive, first octet non-zero: the shape ca::random_serial() gives.
inline Bytes fresh_serial() {
  Bytes serial(16);
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1) throw std::runtime_error("RAND_bytes");
  serial[0] = static_cast<std::uint8_t>((serial[0] & 0x7F) | 0x40);
  return serial;
}

// A clientAuth-style leaf signed by `issuer_key`, named after `issuer`.
inline X509Ptr sign_leaf(const X509* issuer, EVP_PKEY* issuer_key, std::span<const std::uint8_t> serial,
                         const std::string& cn, UnixTime not_before, UnixTime not_after) {
  EvpPkeyPtr key = generate_key(KeyType::ec_p256);
  X509NamePtr subject = make_name({{"CN", cn}});
  X509Ptr cert = new_certificate(serial, subject.get(), X509_get_subject_name(issuer), key.get(), not_before, not_after);
  add_basic_constraints(cert.get(), false, std::nullopt);
  add_key_usage(cert.get(), {ku_digital_signature});
  add_authority_key_identifier(cert.get(), issuer);
  sign_certificate(cert.get(), issuer_key, digest_for_key(issuer_key));
  return cert;
}

// A self-signed CA unrelated to ours; `subject` lets a test reuse our issuing CA's name
// to prove that the key hash, not only the name hash, decides who the issuer is.
struct ForeignCa {
  EvpPkeyPtr key;
  X509Ptr cert;

  explicit ForeignCa(const X509_NAME* subject) : key(generate_key(KeyType::ec_p256)) {
    const UnixTime now = std::time(nullptr);
    cert = new_certificate(fresh_serial(), subject, subject, key.get(), now - 3600, now + 86400 * 365);
    add_basic_constraints(cert.get(), true, std::nullopt);
    add_key_usage(cert.get(), {ku_key_cert_sign, ku_crl_sign});
    add_subject_key_identifier(cert.get());
    add_authority_key_identifier(cert.get(), cert.get());
    sign_certificate(cert.get(), key.get(), digest_for_key(key.get()));
  }
};

// A fresh ledger + index + registry per test, and certificates issued into them.
class RevocationFixture : public ::testing::Test {
 protected:
  RevocationFixture()
      : ca_(test_ca()),
        dir_(make_temp_dir("portcullis-ledger")),
        ledger_(open_sqlite_ledger((dir_ / "ledger.db").string())),
        registry_(*ledger_, index_),
        now_(std::time(nullptr)) {
    index_.load(*ledger_);
  }
  ~RevocationFixture() override {
    ledger_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  const Authority& authority() const { return ca_.authority; }

  // Signs a leaf with the issuing CA and records it for `device` (created if needed).
  X509Ptr issue(const std::string& device, UnixTime not_before, UnixTime not_after) {
    X509Ptr cert = sign_leaf(authority().issuing(), authority().issuing_key(), fresh_serial(), device + "-cert",
                             not_before, not_after);
    CertificateRecord record;
    record.serial_hex = serial_hex(cert.get());
    record.profile = "device";
    record.subject = subject_string(cert.get());
    record.sha256_fingerprint = sha256_fingerprint_hex(cert.get());
    record.not_before = not_before_unix(cert.get());
    record.not_after = not_after_unix(cert.get());
    record.issued_at = now_;
    record.der = cert_to_der(cert.get());
    DeviceRef ref;
    ref.name = device;
    ref.create_if_missing = true;
    registry_.record_issuance(ref, record, "test");
    return cert;
  }
  X509Ptr issue(const std::string& device) { return issue(device, now_ - 3600, now_ + 30 * 86400); }

  void revoke(const X509* cert, RevocationReason reason, UnixTime at) {
    registry_.revoke(serial_hex(cert), reason, at, "test");
  }

  const TestCa& ca_;
  std::filesystem::path dir_;
  std::unique_ptr<Ledger> ledger_;
  IdentityIndex index_;
  Registry registry_;
  UnixTime now_;
};

}  // namespace portcullis::ca::test
