// A real CA for the EAP tests: bootstrapped once per suite into a temp dir, a fresh SQLite
// ledger, IdentityIndex, Registry and Issuer per test; client certificates from CSRs made
// with OpenSSL (RSA-2048 and P-256), plus certificates the Issuer would never sign
// (expired, from another CA) made here with the cert builder. And a driver that runs a
// whole conversation between an Authenticator and the test peer.
#pragma once

#include "ca/authority.hpp"
#include "ca/cert_builder.hpp"
#include "ca/identity_index.hpp"
#include "ca/issuer.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/profile.hpp"
#include "ca/registry.hpp"
#include "ca/x509.hpp"
#include "eap_tls_peer.hpp"
#include "radius/eap/authenticator.hpp"
#include "tests/unit/support/scratch_registry.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace portcullis::radius::eap::testing {

inline std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "portcullis-eap-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

inline ca::EvpPkeyPtr new_key(bool rsa) {
  return ca::EvpPkeyPtr(ca::check_ptr(rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))
                                          : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
                                      "keygen"));
}

inline std::string make_csr(EVP_PKEY* key, const std::string& cn) {
  ca::X509ReqPtr req(ca::check_ptr(X509_REQ_new(), "X509_REQ_new"));
  ca::check(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1), "version");
  ca::X509NamePtr name = ca::make_name({{"CN", cn}});
  ca::check(X509_REQ_set_subject_name(req.get(), name.get()), "subject");
  ca::check(X509_REQ_set_pubkey(req.get(), key), "pubkey");
  ca::check(X509_REQ_sign(req.get(), key, EVP_sha256()) > 0, "sign");
  return ca::csr_to_pem(req.get());
}

// A certificate signed directly with a CA key, bypassing the Issuer's rules.
inline ca::X509Ptr sign_cert(EVP_PKEY* subject_key, const std::string& cn, const X509* issuer, EVP_PKEY* issuer_key,
                             std::int64_t not_before, std::int64_t not_after, bool is_ca) {
  const ca::Bytes serial = ca::random_serial();
  ca::X509NamePtr subject = ca::make_name({{"CN", cn}});
  const X509_NAME* issuer_name = issuer != nullptr ? X509_get_subject_name(issuer) : subject.get();
  ca::X509Ptr cert = ca::new_certificate(serial, subject.get(), issuer_name, subject_key, not_before, not_after);
  ca::add_basic_constraints(cert.get(), is_ca, std::nullopt);
  if (is_ca) {
    ca::add_key_usage(cert.get(), {ca::ku_key_cert_sign, ca::ku_crl_sign});
  } else {
    ca::add_key_usage(cert.get(), {ca::ku_digital_signature});
    ca::add_extended_key_usage(cert.get(), {NID_client_auth});
  }
  ca::add_subject_key_identifier(cert.get());
  ca::add_authority_key_identifier(cert.get(), issuer != nullptr ? issuer : cert.get());
  ca::sign_certificate(cert.get(), issuer_key, EVP_sha256());
  return cert;
}

struct Client {
  ca::EvpPkeyPtr key;
  ca::X509Ptr cert;
  std::string serial_hex;
  std::int64_t device_id = 0;
  std::string device_name;
};

struct Conversation {
  AuthenticatorOutput final;
  std::vector<Bytes> requests;   // every EAP-Request the server sent
  std::vector<Bytes> responses;  // every EAP-Response the peer sent
};

class EapFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_dir_ = make_temp_dir();
    ca::BootstrapOptions o;
    o.ca_dir = ca_dir_ + "/ca";
    std::filesystem::create_directories(o.ca_dir);
    o.hostname = "radius.example.net";
    ca::bootstrap_new_ca(o, portcullis::testing::scratch_registry());
    authority_ = std::make_unique<ca::Authority>(ca::Authority::load(ca::CaPaths{o.ca_dir}));
    // Another CA, unknown to the server, for the "foreign client certificate" tests.
    foreign_key_ = new_key(false);
    const std::int64_t t = static_cast<std::int64_t>(std::time(nullptr));
    foreign_ca_ = sign_cert(foreign_key_.get(), "Foreign Root", nullptr, foreign_key_.get(), t - 3600, t + 86400, true);
  }
  static void TearDownTestSuite() {
    foreign_ca_.reset();
    foreign_key_.reset();
    authority_.reset();
    std::filesystem::remove_all(ca_dir_);
  }

  void SetUp() override {
    dir_ = make_temp_dir();
    ledger_ = ca::open_sqlite_ledger(dir_ + "/ledger.db");
    index_.load(*ledger_);
    registry_ = std::make_unique<ca::Registry>(*ledger_, index_);
    issuer_ = std::make_unique<ca::Issuer>(*authority_, ca::default_profiles(), ca::IssuerUrls{}, *registry_);
    tls_ = TlsServerConfig::from_authority(*authority_, index_);
  }
  void TearDown() override {
    tls_.reset();
    issuer_.reset();
    registry_.reset();
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }

  static ca::UnixTime now() { return static_cast<ca::UnixTime>(std::time(nullptr)); }

  Client issue(const std::string& device, bool rsa = false) { return issue_in(*issuer_, "device", device, rsa); }

  // A certificate `issuer` signs in `profile` for `device` (created if missing).
  Client issue_in(ca::Issuer& issuer, const std::string& profile, const std::string& device, bool rsa = false) {
    Client c;
    c.key = new_key(rsa);
    ca::IssueRequest r;
    r.csr = make_csr(c.key.get(), device);
    r.profile = profile;
    r.names.subject = {{"CN", device}};
    r.device.name = device;
    r.device.create_if_missing = true;
    r.actor = "test";
    ca::IssueResult res = issuer.issue(r);
    c.cert = std::move(res.certificate);
    c.serial_hex = res.record.serial_hex;
    c.device_id = res.device.id;
    c.device_name = res.device.name;
    return c;
  }

  // Signed by our issuing CA with a validity that ended yesterday, and in the ledger.
  Client issue_expired(const std::string& device) {
    Client c;
    c.key = new_key(false);
    c.cert = sign_cert(c.key.get(), device, authority_->issuing(), authority_->issuing_key(), now() - 30 * 86400,
                       now() - 86400, false);
    ca::CertificateRecord rec;
    rec.serial_hex = ca::serial_hex(c.cert.get());
    rec.profile = "device";
    rec.subject = ca::subject_string(c.cert.get());
    rec.sha256_fingerprint = ca::sha256_fingerprint_hex(c.cert.get());
    rec.not_before = ca::not_before_unix(c.cert.get());
    rec.not_after = ca::not_after_unix(c.cert.get());
    rec.issued_at = rec.not_before;
    rec.der = ca::cert_to_der(c.cert.get());
    ca::DeviceRef ref;
    ref.name = device;
    ref.create_if_missing = true;
    ca::IssuanceOutcome out = registry_->record_issuance(ref, rec, "test");
    c.serial_hex = rec.serial_hex;
    c.device_id = out.device.id;
    c.device_name = out.device.name;
    return c;
  }

  Client issue_foreign(const std::string& device) {
    Client c;
    c.key = new_key(false);
    c.cert = sign_cert(c.key.get(), device, foreign_ca_.get(), foreign_key_.get(), now() - 3600, now() + 86400, false);
    c.serial_hex = ca::serial_hex(c.cert.get());
    return c;
  }

  PeerOptions peer_options(const Client* c, int version = 0, std::size_t fragment = 1398) const {
    PeerOptions o;
    if (c != nullptr) {
      o.client_cert = c->cert.get();
      o.client_key = c->key.get();
    }
    o.trust_root = authority_->root();
    if (version != 0) o.min_version = o.max_version = version;
    o.fragment_size = fragment;
    return o;
  }

  AuthenticatorConfig auth_config(std::size_t fragment = 1398) {
    AuthenticatorConfig c;
    c.tls = tls_;
    c.fragment_size = fragment;
    c.log = [this](std::string_view line) { log_.emplace_back(line); };
    return c;
  }

  // Runs a conversation to its end. The first Access-Request carries the peer's
  // EAP-Response/Identity, as forwarded by a NAS (unless `nas_identity` is false).
  Conversation run(Authenticator& a, EapTlsPeer& peer, std::optional<std::uint32_t> framed_mtu = std::nullopt,
                   bool nas_identity = true) {
    Conversation conv;
    const Bytes first = nas_identity ? peer.identity_response(42) : Bytes{};
    AuthenticatorOutput out = a.step({first, framed_mtu});
    for (int i = 0; i < 200 && out.decision == Decision::request; ++i) {
      conv.requests.push_back(out.eap_message);
      std::optional<Bytes> resp = peer.respond(out.eap_message);
      if (!resp) throw std::runtime_error("peer stopped mid-conversation");
      conv.responses.push_back(*resp);
      out = a.step({*resp, framed_mtu});
    }
    if (out.decision == Decision::success || out.decision == Decision::failure) {
      EXPECT_FALSE(peer.respond(out.eap_message).has_value());
    }
    conv.final = std::move(out);
    return conv;
  }

  inline static std::string ca_dir_;
  inline static std::unique_ptr<ca::Authority> authority_;
  inline static ca::EvpPkeyPtr foreign_key_;
  inline static ca::X509Ptr foreign_ca_;
  std::string dir_;
  std::unique_ptr<ca::Ledger> ledger_;
  ca::IdentityIndex index_;
  std::unique_ptr<ca::Registry> registry_;
  std::unique_ptr<ca::Issuer> issuer_;
  std::shared_ptr<const TlsServerConfig> tls_;
  std::vector<std::string> log_;
};

}  // namespace portcullis::radius::eap::testing
