// The SCEP unit tests' requester (scep_requester.hpp: PKCSReq/RenewalReq/CertPoll
// messages, CertRep replies) and a bootstrapped CA with a fresh ledger per test.
#pragma once

#include "ca/authority.hpp"
#include "ca/cert_builder.hpp"
#include "ca/identity_index.hpp"
#include "ca/issuer.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/registry.hpp"
#include "ca/x509.hpp"
#include "scep/enrollment.hpp"
#include "tests/unit/scep/scep_requester.hpp"
#include "tests/unit/support/ca_stack_fixture.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::scep::testing {

using ca::check;
using ca::check_ptr;

using portcullis::testing::make_temp_dir;

// "ok", or why `leaf` does not chain to the authority's root through its issuing CA.
inline std::string verify(const X509* leaf, const ca::Authority& a) {
  ca::X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), const_cast<X509*>(a.root()));
  ca::X509StackPtr untrusted(sk_X509_new_null());
  X509_up_ref(const_cast<X509*>(a.issuing()));
  sk_X509_push(untrusted.get(), const_cast<X509*>(a.issuing()));
  ca::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(leaf), untrusted.get());
  const int ok = X509_verify_cert(ctx.get());
  ERR_clear_error();
  return ok == 1 ? "ok" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

// The shared CA + ledger stack (tests/unit/support) and an Enrollment over it per test.
class ScepFixture : public portcullis::testing::CaStackFixture {
 protected:
  void SetUp() override {
    CaStackFixture::SetUp();
    EnrollmentSettings settings;
    settings.static_challenge = kStatic;
    enrollment_ = std::make_unique<Enrollment>(*authority_, *issuer_, *registry_, settings);
  }
  void TearDown() override {
    enrollment_.reset();
    CaStackFixture::TearDown();
  }

  // A requester: key, self-signed signing certificate.
  struct Requester {
    ca::EvpPkeyPtr key;
    ca::X509Ptr cert;
  };
  static Requester requester(const std::string& cn, int bits = 2048) {
    Requester r;
    r.key = rsa_key(bits);
    r.cert = self_signed(r.key.get(), cn);
    return r;
  }

  ca::Bytes pkcs_req(const Requester& who, const std::string& cn, const std::string& challenge,
                     RequestOptions o = {}) const {
    return make_request(make_csr(who.key.get(), cn, challenge), who.cert.get(), who.key.get(), authority_->ra(), o);
  }
  Reply send(const ca::Bytes& message, const Requester& who) {
    return open_reply(enrollment_->handle(message), authority_->ra(), who.cert.get(), who.key.get());
  }
  std::size_t certificate_count() { return ledger_->certificate_count(); }

  static constexpr const char* kStatic = "static-secret-123";
  std::unique_ptr<Enrollment> enrollment_;
};

}  // namespace portcullis::scep::testing
