// Test helpers for the signing tests (x509, authority, issuer): temp directories, CSRs
// built with OpenSSL APIs, and chain verification the way a relying party does it.
#pragma once

#include "ca/authority.hpp"
#include "ca/cert_builder.hpp"
#include "ca/keys.hpp"
#include "ca/x509.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace portcullis::ca::testing {

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/portcullis-signing-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // A subdirectory, created.
  std::string sub(const std::string& name) const {
    const std::string p = path_ + "/" + name;
    std::filesystem::create_directories(p);
    return p;
  }

 private:
  std::string path_;
};

inline unsigned file_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("stat " + path);
  return st.st_mode & 07777;
}

inline EvpPkeyPtr rsa_key(std::size_t bits) {
  return EvpPkeyPtr(check_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits), "keygen"));
}
inline EvpPkeyPtr ec_key(const char* curve) {
  return EvpPkeyPtr(check_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve), "keygen"));
}

struct CsrSpec {
  std::vector<std::pair<std::string, std::string>> subject = {{"CN", "device-1"}};
  std::vector<GeneralNamePtr> sans;
  bool request_ca = false;
};

inline X509ReqPtr make_csr(EVP_PKEY* key, CsrSpec spec) {
  X509ReqPtr req(check_ptr(X509_REQ_new(), "X509_REQ_new"));
  check(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1), "version");
  X509NamePtr name = make_name(spec.subject);
  check(X509_REQ_set_subject_name(req.get(), name.get()), "subject");
  check(X509_REQ_set_pubkey(req.get(), key), "pubkey");
  X509ExtensionStackPtr exts(check_ptr(sk_X509_EXTENSION_new_null(), "stack"));
  STACK_OF(X509_EXTENSION)* raw = exts.get();
  if (!spec.sans.empty()) {
    GeneralNamesPtr names(check_ptr(GENERAL_NAMES_new(), "GENERAL_NAMES_new"));
    for (auto& gn : spec.sans) {
      check(sk_GENERAL_NAME_push(names.get(), gn.get()) > 0, "push");
      gn.release();
    }
    check(X509V3_add1_i2d(&raw, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT), "san");
  }
  if (spec.request_ca) {
    BasicConstraintsPtr bc(check_ptr(BASIC_CONSTRAINTS_new(), "bc"));
    bc->ca = 0xFF;
    check(X509V3_add1_i2d(&raw, NID_basic_constraints, bc.get(), 1, X509V3_ADD_DEFAULT), "bc");
  }
  if (sk_X509_EXTENSION_num(exts.get()) > 0) check(X509_REQ_add_extensions(req.get(), exts.get()), "exts");
  check(X509_REQ_sign(req.get(), key, EVP_sha256()) > 0, "sign");
  return req;
}

inline std::string csr_pem(EVP_PKEY* key, CsrSpec spec = {}) {
  return csr_to_pem(make_csr(key, std::move(spec)).get());
}

inline std::string csr_der(const X509_REQ* req) {
  const int len = i2d_X509_REQ(req, nullptr);
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509_REQ(req, &p);
  return der;
}

// Verifies `leaf` the way a peer would: only `root` trusted, the rest untrusted. Returns
// "ok" or OpenSSL's verify error string.
inline std::string verify_chain(const X509* leaf, const X509* root, const std::vector<const X509*>& untrusted,
                                int purpose = 0) {
  X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), const_cast<X509*>(root));
  X509StackPtr chain(sk_X509_new_null());
  for (const X509* c : untrusted) {
    X509_up_ref(const_cast<X509*>(c));
    sk_X509_push(chain.get(), const_cast<X509*>(c));
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(leaf), chain.get());
  if (purpose != 0) X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  const int ok = X509_verify_cert(ctx.get());
  ERR_clear_error();
  return ok == 1 ? "ok" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

inline bool has_extension(const X509* cert, int nid) { return X509_get_ext_by_NID(cert, nid, -1) >= 0; }

inline bool extension_critical(const X509* cert, int nid) {
  const int i = X509_get_ext_by_NID(cert, nid, -1);
  return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, i)) == 1;
}

inline std::uint32_t key_usage(const X509* cert) { return X509_get_key_usage(const_cast<X509*>(cert)); }
inline std::uint32_t ext_key_usage(const X509* cert) { return X509_get_extended_key_usage(const_cast<X509*>(cert)); }

inline X509Ptr load_pem_cert(const std::string& path) { return cert_from_pem(read_file(path)); }

}  // namespace portcullis::ca::testing
