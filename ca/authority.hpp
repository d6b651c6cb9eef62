// The CA material on disk and in memory: root, issuing CA, SCEP RA, EAP/RADIUS server
// certificate, and the bootstrap paths (fresh CA, imported issuing CA, or an issuing CA
// key + CSR for a corporate root to sign, completed by install_issuing_certificate).
#pragma once

#include "ca/x509.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::ca {

class Registry;

// The service's own certificates (SCEP RA, EAP server, admin HTTPS) are issued through the
// Issuer like any other, to this device, in these profiles: listed, revocable, and
// answered by OCSP. They are not in the configurable [profiles].
inline constexpr const char* kServiceDevice = "portcullis-service";
inline constexpr const char* kRaProfile = "scep-ra";
inline constexpr const char* kEapServerProfile = "eap-server";
inline constexpr const char* kAdminServerProfile = "admin-server";

enum class KeyType { ec_p256, ec_p384, rsa2048, rsa3072 };
KeyType parse_key_type(const std::string& name);   // "ec-p256" …; throws std::invalid_argument
std::string to_string(KeyType type);

// File layout under <dir>/ca/ (public certs 0644, keys 0600).
struct CaPaths {
  std::string dir;  // <dir>/ca
  std::string root() const { return dir + "/root.pem"; }
  std::string issuing() const { return dir + "/issuing.pem"; }
  std::string issuing_key() const { return dir + "/issuing.key"; }
  std::string issuing_csr() const { return dir + "/issuing.csr"; }   // only while pending
  std::string chain() const { return dir + "/chain.pem"; }           // issuing .. root, PEM concatenated
  std::string root_key() const { return dir + "/root.key"; }         // only for a CA we created
  std::string ra() const { return dir + "/ra.pem"; }
  std::string ra_key() const { return dir + "/ra.key"; }
  std::string server() const { return dir + "/server.pem"; }
  std::string server_key() const { return dir + "/server.key"; }
  std::string admin() const { return dir + "/admin.pem"; }            // admin HTTPS listener
  std::string admin_key() const { return dir + "/admin.key"; }
};

struct BootstrapOptions {
  std::string ca_dir;                      // <dir>/ca, created by the caller
  KeyType key_type = KeyType::ec_p256;     // root and issuing CA keys
  std::string hostname = "localhost";      // server certificate SAN + CN
  std::string organization = "Portcullis";
  std::string crl_url;                     // put into RA/server/admin certs' CDP
  std::string ocsp_url;                    // AIA
  int root_validity_days = 20 * 365;
  int issuing_validity_days = 10 * 365;
  int leaf_validity_days = 2 * 365;        // RA, server and admin certificates
};

// Fresh root + issuing + RA (RSA-2048: Apple/Windows encrypt to RSA only) + server + admin;
// the last three are issued into `registry`'s ledger (kServiceDevice).
void bootstrap_new_ca(const BootstrapOptions& options, Registry& registry);
// An enterprise issuing CA given as cert + key + chain up to its root.
void bootstrap_imported_ca(const BootstrapOptions& options, Registry& registry, const std::string& issuing_cert_path,
                           const std::string& issuing_key_path, const std::string& chain_path);
// Generates the issuing CA key and writes issuing.csr; the CA is incomplete until
// install_issuing_certificate() is given the signed certificate and its chain.
void bootstrap_pending_ca(const BootstrapOptions& options);
void install_issuing_certificate(const BootstrapOptions& options, Registry& registry,
                                 const std::string& issuing_cert_path, const std::string& chain_path);
bool ca_is_pending(const CaPaths& paths);

// CA rollover, first half (RFC 8894 §4.7): the next issuing CA is staged under <ca>/next/
// in the same layout, with its own RA, server and admin certificates, so SCEP clients can
// fetch it with GetNextCACert while the current CA keeps issuing. Staging is all or
// nothing: the files are written to <ca>/next.partial and renamed into place.
CaPaths staged_ca_paths(const CaPaths& current);
bool rollover_is_staged(const CaPaths& current);
// A new issuing CA (same key type as the current one) signed by our own root: needs
// root.key, i.e. a CA made by `portcullis init` without --import/--external-root.
void stage_rollover(const BootstrapOptions& options, Registry& registry);
// The next issuing CA from an enterprise root, as cert + key + chain (verified as at import).
void stage_imported_rollover(const BootstrapOptions& options, Registry& registry,
                             const std::string& issuing_cert_path, const std::string& issuing_key_path,
                             const std::string& chain_path);
void discard_rollover(const CaPaths& current);

// The loaded, ready-to-sign authority. Immutable after load; safe to share across threads.
class Authority {
 public:
  static Authority load(const CaPaths& paths);   // throws std::runtime_error with the file that failed
  // The staged next CA (see stage_rollover), or nullopt when none is staged.
  static std::optional<Authority> load_staged(const CaPaths& current);

  const X509* root() const { return root_.get(); }
  const X509* issuing() const { return issuing_.get(); }
  EVP_PKEY* issuing_key() const { return issuing_key_.get(); }
  const std::vector<X509Ptr>& chain() const { return chain_; }   // issuing first, root last
  const X509* ra() const { return ra_.get(); }
  EVP_PKEY* ra_key() const { return ra_key_.get(); }
  const X509* server() const { return server_.get(); }
  EVP_PKEY* server_key() const { return server_key_.get(); }
  const CaPaths& paths() const { return paths_; }
  // Digest for signatures by the issuing key: SHA-384 for P-384, SHA-256 otherwise.
  const EVP_MD* signing_digest() const;

 private:
  CaPaths paths_;
  X509Ptr root_, issuing_, ra_, server_;
  EvpPkeyPtr issuing_key_, ra_key_, server_key_;
  std::vector<X509Ptr> chain_;
};

}  // namespace portcullis::ca
