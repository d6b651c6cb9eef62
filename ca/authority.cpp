// Loading the CA material written by bootstrap.cpp into an immutable, shareable Authority.
#include "ca/authority.hpp"

#include "ca/key_file.hpp"
#include "ca/keys.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <stdexcept>

namespace portcullis::ca {

namespace {

bool file_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

// Runs `load` and rethrows any failure as one runtime_error naming the file.
template <class T>
T load_named(const std::string& path, const char* what, const std::function<T(const std::string&)>& load) {
  std::string data;
  try {
    data = read_file(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot load the ") + what + ": " + e.what());
  }
  try {
    return load(data);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot load the ") + what + " from " + path + ": " + e.what());
  }
}

X509Ptr load_cert(const std::string& path, const char* what) {
  return load_named<X509Ptr>(path, what, [](const std::string& pem) { return cert_from_pem(pem); });
}

EvpPkeyPtr load_key(const std::string& path, const char* what) {
  // The parse error itself is dropped: it may echo parts of a malformed key file.
  std::string data;
  try {
    data = read_private_key_file(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot load the ") + what + ": " + e.what());
  }
  try {
    return key_from_pem(data);
  } catch (const std::exception&) {
    throw std::runtime_error(std::string("cannot load the ") + what + " from " + path +
                             ": not an unencrypted PEM private key");
  }
}

void require_match(const X509* cert, const EVP_PKEY* key, const std::string& cert_path, const std::string& key_path) {
  if (!key_matches_certificate(cert, key)) {
    throw std::runtime_error("the private key " + key_path + " does not match the certificate " + cert_path);
  }
}

}  // namespace

bool ca_is_pending(const CaPaths& paths) { return file_exists(paths.issuing_csr()); }

CaPaths staged_ca_paths(const CaPaths& current) { return CaPaths{current.dir + "/next"}; }

bool rollover_is_staged(const CaPaths& current) { return file_exists(staged_ca_paths(current).dir); }

void discard_rollover(const CaPaths& current) {
  std::error_code ec;
  std::filesystem::remove_all(staged_ca_paths(current).dir, ec);
  if (ec) throw std::runtime_error("cannot remove " + staged_ca_paths(current).dir + ": " + ec.message());
}

std::optional<Authority> Authority::load_staged(const CaPaths& current) {
  if (!rollover_is_staged(current)) return std::nullopt;
  return load(staged_ca_paths(current));
}

Authority Authority::load(const CaPaths& paths) {
  if (ca_is_pending(paths)) {
    throw std::runtime_error("the issuing CA in " + paths.dir + " is pending: have " + paths.issuing_csr() +
                             " signed, then install the certificate (portcullis ca install-cert)");
  }
  Authority a;
  a.paths_ = paths;
  a.root_ = load_cert(paths.root(), "root CA certificate");
  a.issuing_ = load_cert(paths.issuing(), "issuing CA certificate");
  a.issuing_key_ = load_key(paths.issuing_key(), "issuing CA key");
  a.chain_ = load_named<std::vector<X509Ptr>>(paths.chain(), "CA chain",
                                              [](const std::string& pem) { return certs_from_pem(pem); });
  a.ra_ = load_cert(paths.ra(), "SCEP RA certificate");
  a.ra_key_ = load_key(paths.ra_key(), "SCEP RA key");
  a.server_ = load_cert(paths.server(), "server certificate");
  a.server_key_ = load_key(paths.server_key(), "server key");

  require_match(a.issuing_.get(), a.issuing_key_.get(), paths.issuing(), paths.issuing_key());
  require_match(a.ra_.get(), a.ra_key_.get(), paths.ra(), paths.ra_key());
  require_match(a.server_.get(), a.server_key_.get(), paths.server(), paths.server_key());
  // chain.pem is what we hand to peers (EAP-TLS, SCEP GetCACert): it must start with the
  // issuing CA and end with the root we trust, or clients would build a different path.
  if (X509_cmp(a.chain_.front().get(), a.issuing_.get()) != 0) {
    throw std::runtime_error(paths.chain() + " does not start with the issuing CA certificate " + paths.issuing());
  }
  if (X509_cmp(a.chain_.back().get(), a.root_.get()) != 0) {
    throw std::runtime_error(paths.chain() + " does not end with the root CA certificate " + paths.root());
  }
  return a;
}

const EVP_MD* Authority::signing_digest() const { return digest_for_key(issuing_key_.get()); }

}  // namespace portcullis::ca
