// Creating the CA material on disk: a fresh root + issuing CA, an imported enterprise
// issuing CA, or a pending issuing CA (key + CSR) completed later by
// install_issuing_certificate(). Each path ends with the same service certificates:
// SCEP RA, EAP/RADIUS server and admin HTTPS.
#include "ca/authority.hpp"
#include "ca/cert_builder.hpp"
#include "ca/issuer.hpp"
#include "ca/key_file.hpp"
#include "ca/keys.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <unistd.h>

namespace portcullis::ca {

namespace {

constexpr unsigned kPublicMode = 0644;
constexpr unsigned kPrivateMode = 0600;
constexpr std::int64_t kDay = 86400;
// Backdating tolerates devices whose clocks run a little behind ours.
constexpr std::int64_t kClockSkew = 300;

X509Ptr load_cert_file(const std::string& path) {
  const std::string data = read_file(path);
  try {
    if (data.find("-----BEGIN") != std::string::npos) return cert_from_pem(data);
    return cert_from_der(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot parse certificate " + path + ": " + e.what());
  }
}

std::vector<X509Ptr> load_chain_file(const std::string& path) {
  try {
    return certs_from_pem(read_file(path));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot parse certificate chain " + path + ": " + e.what());
  }
}

bool is_self_signed(const X509* cert) {
  return (X509_get_extension_flags(const_cast<X509*>(cert)) & EXFLAG_SS) != 0;
}

// RFC 5280 §4.2.1.9/§4.2.1.3: a CA certificate has basicConstraints cA=TRUE and, when
// keyUsage is present, keyCertSign. X509_check_ca returns 1 exactly for that case.
void require_ca(const X509* cert, const std::string& what) {
  if (X509_check_ca(const_cast<X509*>(cert)) != 1) {
    throw std::runtime_error(what + " is not a CA certificate (basicConstraints CA:TRUE with keyCertSign required)");
  }
}

X509Ptr up_ref(const X509* cert) {
  check(X509_up_ref(const_cast<X509*>(cert)), "X509_up_ref");
  return X509Ptr(const_cast<X509*>(cert));
}

// Verifies `issuing` up to a self-signed root found among `candidates` (RFC 5280 §6) and
// returns the path: issuing first, root last.
std::vector<X509Ptr> verify_ca_path(const X509* issuing, const std::vector<X509Ptr>& candidates) {
  X509StorePtr store(check_ptr(X509_STORE_new(), "X509_STORE_new"));
  X509StackPtr untrusted(check_ptr(sk_X509_new_null(), "sk_X509_new_null"));
  bool have_root = false;
  auto add = [&](const X509* cert) {
    if (is_self_signed(cert)) {
      check(X509_STORE_add_cert(store.get(), const_cast<X509*>(cert)), "X509_STORE_add_cert");
      have_root = true;
    } else {
      X509Ptr ref = up_ref(cert);
      if (sk_X509_push(untrusted.get(), ref.get()) <= 0) throw OpenSslError("sk_X509_push");
      ref.release();
    }
  };
  for (const auto& c : candidates) {
    if (X509_cmp(c.get(), issuing) != 0) add(c.get());
  }
  if (is_self_signed(issuing)) add(issuing);  // the issuing CA may be a root itself
  if (!have_root) throw std::runtime_error("the certificate chain does not end in a self-signed root");

  X509StoreCtxPtr ctx(check_ptr(X509_STORE_CTX_new(), "X509_STORE_CTX_new"));
  check(X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(issuing), untrusted.get()),
        "X509_STORE_CTX_init");
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    throw std::runtime_error(std::string("the issuing CA certificate does not verify up to its root: ") +
                             X509_verify_cert_error_string(err));
  }
  X509StackPtr path(check_ptr(X509_STORE_CTX_get1_chain(ctx.get()), "X509_STORE_CTX_get1_chain"));
  std::vector<X509Ptr> out;
  while (sk_X509_num(path.get()) > 0) out.emplace_back(sk_X509_shift(path.get()));
  return out;
}

std::string chain_pem(const std::vector<X509Ptr>& path) {
  std::string pem;
  for (const auto& c : path) pem += cert_to_pem(c.get());
  return pem;
}

void write_key(const std::string& path, const EVP_PKEY* key) { write_file(path, key_to_pem(key), kPrivateMode); }
void write_cert(const std::string& path, const X509* cert) { write_file(path, cert_to_pem(cert), kPublicMode); }

std::vector<std::string> hostname_sans(const std::string& host) {
  std::vector<std::string> sans{"dns:" + host};
  if (GeneralNamePtr ip = ip_name(host)) sans.push_back("ip:" + host);
  return sans;
}

// The service's own certificates, each with its profile: they are issued, recorded,
// listed, revoked and answered by OCSP like any other (the only path to a signature).
Profiles service_profiles(const BootstrapOptions& o) {
  auto make = [&](const char* name, std::vector<std::string> eku, std::vector<std::string> san_types) {
    Profile p;
    p.name = name;
    p.validity_days = o.leaf_validity_days;
    p.extended_key_usage = std::move(eku);
    p.allowed_san_types = std::move(san_types);
    p.subject_template = {"O=" + o.organization, "CN={cn}"};
    p.allowed_curves = {"P-256", "P-384"};
    return p;
  };
  Profiles out;
  // SCEP RA (RFC 8894 §2.1): signs CertReps and decrypts envelopes; no EKU.
  out.emplace(kRaProfile, make(kRaProfile, {}, {}));
  out.emplace(kEapServerProfile, make(kEapServerProfile, {"serverAuth"}, {"dns", "ip"}));
  out.emplace(kAdminServerProfile, make(kAdminServerProfile, {"serverAuth"}, {"dns", "ip"}));
  return out;
}

struct KeyAndCert {
  EvpPkeyPtr key;
  X509Ptr cert;
};

KeyAndCert issue_service_certificate(Issuer& issuer, KeyType key_type, const char* profile, const std::string& cn,
                                     std::vector<std::string> sans) {
  KeyAndCert out{generate_key(key_type), nullptr};
  X509ReqPtr req(check_ptr(X509_REQ_new(), "X509_REQ_new"));
  check(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1), "X509_REQ_set_version");
  check(X509_REQ_set_pubkey(req.get(), out.key.get()), "X509_REQ_set_pubkey");
  if (X509_REQ_sign(req.get(), out.key.get(), digest_for_key(out.key.get())) <= 0) throw OpenSslError("X509_REQ_sign");
  IssueRequest request;
  request.parsed_csr = req.get();
  request.profile = profile;
  request.names = names_from_templates(issuer.profiles().at(profile), kServiceDevice, cn, sans);
  request.device.name = kServiceDevice;
  request.device.create_if_missing = true;
  request.actor = "init";
  out.cert = issuer.issue(request).certificate;
  return out;
}

// The RA, server and admin certificates every CA variant needs, issued by `issuing`
// through the Issuer into `registry`'s ledger.
void write_service_certificates(const BootstrapOptions& o, const CaPaths& paths, const X509* issuing,
                                EVP_PKEY* issuing_key, Registry& registry) {
  Issuer issuer(SigningCa{issuing, issuing_key, digest_for_key(issuing_key)}, service_profiles(o),
                IssuerUrls{o.crl_url, o.ocsp_url}, registry);
  // SCEP RA: Apple and Windows clients encrypt the pkcsPKIEnvelope to the RA with RSA only
  // (RFC 8894 §3.2.2), hence RSA-2048 (and keyEncipherment) whatever the CA key type is.
  const KeyAndCert ra = issue_service_certificate(issuer, KeyType::rsa2048, kRaProfile, o.organization + " SCEP RA", {});
  const KeyAndCert server =
      issue_service_certificate(issuer, o.key_type, kEapServerProfile, o.hostname, hostname_sans(o.hostname));
  std::vector<std::string> admin_sans = hostname_sans(o.hostname);
  if (o.hostname != "localhost") admin_sans.push_back("dns:localhost");
  for (const char* loopback : {"127.0.0.1", "::1"}) {
    if (o.hostname != loopback) admin_sans.push_back(std::string("ip:") + loopback);
  }
  const KeyAndCert admin = issue_service_certificate(issuer, o.key_type, kAdminServerProfile, o.hostname, admin_sans);

  write_key(paths.ra_key(), ra.key.get());
  write_cert(paths.ra(), ra.cert.get());
  write_key(paths.server_key(), server.key.get());
  write_cert(paths.server(), server.cert.get());
  write_key(paths.admin_key(), admin.key.get());
  write_cert(paths.admin(), admin.cert.get());
}

// Writes issuing.pem, chain.pem (issuing .. root) and root.pem from a verified path.
void write_ca_certificates(const CaPaths& paths, const std::vector<X509Ptr>& path) {
  write_cert(paths.root(), path.back().get());
  write_cert(paths.issuing(), path.front().get());
  write_file(paths.chain(), chain_pem(path), kPublicMode);
}

// RFC 5280 §4.2.1.9: pathLenConstraint 0 lets the issuing CA sign end entities only.
// digitalSignature: the issuing CA also signs OCSP responses itself (RFC 6960 §4.2.2.2).
const std::vector<KeyUsageBit> kIssuingKeyUsage = {ku_digital_signature, ku_key_cert_sign, ku_crl_sign};

void remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw std::runtime_error("cannot remove " + path + ": " + std::strerror(errno));
  }
}

// An issuing CA certificate for `issuing_key`, signed by our own root; it never outlives
// the root (RFC 5280 §6.1.3 checks validity along the whole path).
X509Ptr make_issuing_ca(const BootstrapOptions& o, const std::string& common_name, EVP_PKEY* issuing_key,
                        const X509* root, EVP_PKEY* root_key) {
  const std::int64_t now = now_unix();
  X509NamePtr name = make_name({{"O", o.organization}, {"CN", common_name}});
  X509Ptr issuing = new_certificate(random_serial(), name.get(), X509_get_subject_name(root), issuing_key,
                                    now - kClockSkew, std::min(now + o.issuing_validity_days * kDay, not_after_unix(root)));
  add_basic_constraints(issuing.get(), true, 0L);
  add_key_usage(issuing.get(), kIssuingKeyUsage);
  add_subject_key_identifier(issuing.get());
  add_authority_key_identifier(issuing.get(), root);
  sign_certificate(issuing.get(), root_key, digest_for_key(root_key));
  return issuing;
}

// An enterprise issuing CA given as files, checked: a CA certificate, its own key, and a
// path that verifies up to a self-signed root.
struct ImportedCa {
  X509Ptr issuing;
  EvpPkeyPtr key;
  std::vector<X509Ptr> path;   // issuing first, root last
};

ImportedCa load_imported_ca(const std::string& issuing_cert_path, const std::string& issuing_key_path,
                            const std::string& chain_path) {
  ImportedCa ca;
  ca.issuing = load_cert_file(issuing_cert_path);
  try {
    ca.key = key_from_pem(read_file(issuing_key_path));
  } catch (const std::exception&) {
    // Name the file only: the OpenSSL reason never contains key bytes, but stay terse.
    throw std::runtime_error("cannot load private key " + issuing_key_path + " (unencrypted PEM required)");
  }
  require_ca(ca.issuing.get(), issuing_cert_path);
  if (!key_matches_certificate(ca.issuing.get(), ca.key.get())) {
    throw std::runtime_error("the private key " + issuing_key_path + " does not match " + issuing_cert_path);
  }
  ca.path = verify_ca_path(ca.issuing.get(), load_chain_file(chain_path));
  return ca;
}

void write_imported_ca(const BootstrapOptions& o, const CaPaths& paths, const ImportedCa& ca, Registry& registry) {
  write_key(paths.issuing_key(), ca.key.get());
  write_ca_certificates(paths, ca.path);
  write_service_certificates(o, paths, ca.issuing.get(), ca.key.get(), registry);
}

// Runs `write` on <ca>/next.partial (fresh, created here) and renames that folder to
// <ca>/next: a crash mid-way leaves no staged CA for GetNextCACert to announce, and the
// next attempt starts over.
void stage_atomically(const CaPaths& current, const std::function<void(const CaPaths&)>& write) {
  const CaPaths staged = staged_ca_paths(current);
  if (rollover_is_staged(current)) {
    throw std::runtime_error("a CA rollover is already staged in " + staged.dir + " (discard it first)");
  }
  const CaPaths partial{current.dir + "/next.partial"};
  std::filesystem::remove_all(partial.dir);
  std::filesystem::create_directory(partial.dir);
  std::filesystem::permissions(partial.dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
  write(partial);
  if (::rename(partial.dir.c_str(), staged.dir.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + partial.dir + " to " + staged.dir + ": " + std::strerror(errno));
  }
}

std::string utc_date(std::int64_t unix_time) {
  const std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

}  // namespace

void bootstrap_new_ca(const BootstrapOptions& o, Registry& registry) {
  const CaPaths paths{o.ca_dir};
  const std::int64_t now = now_unix();

  EvpPkeyPtr root_key = generate_key(o.key_type);
  X509NamePtr root_name = make_name({{"O", o.organization}, {"CN", o.organization + " Root CA"}});
  X509Ptr root = new_certificate(random_serial(), root_name.get(), root_name.get(), root_key.get(), now - kClockSkew,
                                 now + o.root_validity_days * kDay);
  add_basic_constraints(root.get(), true, std::nullopt);
  add_key_usage(root.get(), {ku_key_cert_sign, ku_crl_sign});
  add_subject_key_identifier(root.get());
  // RFC 5280 §4.2.1.1 lets a self-signed root omit the AKI; we include it (= its own SKI)
  // because some path builders match on it.
  add_authority_key_identifier(root.get(), root.get());
  sign_certificate(root.get(), root_key.get(), digest_for_key(root_key.get()));

  EvpPkeyPtr issuing_key = generate_key(o.key_type);
  X509Ptr issuing = make_issuing_ca(o, o.organization + " Issuing CA", issuing_key.get(), root.get(), root_key.get());

  write_key(paths.root_key(), root_key.get());
  write_key(paths.issuing_key(), issuing_key.get());
  std::vector<X509Ptr> path;
  path.push_back(std::move(issuing));
  path.push_back(std::move(root));
  write_ca_certificates(paths, path);
  write_service_certificates(o, paths, path.front().get(), issuing_key.get(), registry);
}

void bootstrap_imported_ca(const BootstrapOptions& o, Registry& registry, const std::string& issuing_cert_path,
                           const std::string& issuing_key_path, const std::string& chain_path) {
  const ImportedCa ca = load_imported_ca(issuing_cert_path, issuing_key_path, chain_path);
  write_imported_ca(o, CaPaths{o.ca_dir}, ca, registry);
}

void bootstrap_pending_ca(const BootstrapOptions& o) {
  const CaPaths paths{o.ca_dir};
  EvpPkeyPtr key = generate_key(o.key_type);
  X509NamePtr subject = make_name({{"O", o.organization}, {"CN", o.organization + " Issuing CA"}});

  X509ReqPtr req(check_ptr(X509_REQ_new(), "X509_REQ_new"));
  check(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1), "X509_REQ_set_version");
  check(X509_REQ_set_subject_name(req.get(), subject.get()), "X509_REQ_set_subject_name");
  check(X509_REQ_set_pubkey(req.get(), key.get()), "X509_REQ_set_pubkey");

  // Ask the corporate root for exactly what we need (RFC 2986 extensionRequest); its CA
  // decides what it grants, and install_issuing_certificate() checks the result.
  X509ExtensionStackPtr exts(check_ptr(sk_X509_EXTENSION_new_null(), "sk_X509_EXTENSION_new_null"));
  STACK_OF(X509_EXTENSION)* raw = exts.get();
  BasicConstraintsPtr bc(check_ptr(BASIC_CONSTRAINTS_new(), "BASIC_CONSTRAINTS_new"));
  bc->ca = 0xFF;
  bc->pathlen = check_ptr(ASN1_INTEGER_new(), "ASN1_INTEGER_new");
  check(ASN1_INTEGER_set(bc->pathlen, 0), "ASN1_INTEGER_set");
  check(X509V3_add1_i2d(&raw, NID_basic_constraints, bc.get(), 1, X509V3_ADD_DEFAULT), "basicConstraints");
  Asn1BitStringPtr ku(check_ptr(ASN1_BIT_STRING_new(), "ASN1_BIT_STRING_new"));
  for (KeyUsageBit bit : kIssuingKeyUsage) check(ASN1_BIT_STRING_set_bit(ku.get(), bit, 1), "ASN1_BIT_STRING_set_bit");
  check(X509V3_add1_i2d(&raw, NID_key_usage, ku.get(), 1, X509V3_ADD_DEFAULT), "keyUsage");
  check(X509_REQ_add_extensions(req.get(), exts.get()), "X509_REQ_add_extensions");
  if (X509_REQ_sign(req.get(), key.get(), digest_for_key(key.get())) <= 0) throw OpenSslError("X509_REQ_sign");

  write_key(paths.issuing_key(), key.get());
  write_file(paths.issuing_csr(), csr_to_pem(req.get()), kPublicMode);
}

void install_issuing_certificate(const BootstrapOptions& o, Registry& registry, const std::string& issuing_cert_path,
                                 const std::string& chain_path) {
  const CaPaths paths{o.ca_dir};
  if (!ca_is_pending(paths)) {
    throw std::runtime_error("no pending issuing CA in " + paths.dir + " (" + paths.issuing_csr() + " is missing)");
  }
  EvpPkeyPtr key;
  const std::string key_pem = read_private_key_file(paths.issuing_key());   // refused unless 0600 or stricter
  try {
    key = key_from_pem(key_pem);
  } catch (const std::exception&) {
    throw std::runtime_error("cannot load the pending issuing CA key " + paths.issuing_key());
  }
  X509Ptr issuing = load_cert_file(issuing_cert_path);
  if (!key_matches_certificate(issuing.get(), key.get())) {
    throw std::runtime_error(issuing_cert_path + " was not issued for the pending key " + paths.issuing_key());
  }
  require_ca(issuing.get(), issuing_cert_path);
  const std::vector<X509Ptr> path = verify_ca_path(issuing.get(), load_chain_file(chain_path));

  // Service certificates first, the CA certificates next, the CSR last: until the CSR is
  // gone the CA counts as pending, so an interrupted install can simply be run again.
  write_service_certificates(o, paths, issuing.get(), key.get(), registry);
  write_ca_certificates(paths, path);
  remove_file(paths.issuing_csr());
}

void stage_rollover(const BootstrapOptions& o, Registry& registry) {
  const CaPaths current{o.ca_dir};
  if (::access(current.root_key().c_str(), F_OK) != 0) {
    throw std::runtime_error("the root key " + current.root_key() +
                             " is not here (the root is not ours): stage the next issuing CA your root signed with "
                             "--cert, --key and --chain");
  }
  const X509Ptr root = load_cert_file(current.root());
  EvpPkeyPtr root_key;
  const std::string root_key_pem = read_private_key_file(current.root_key());   // refused unless 0600 or stricter
  try {
    root_key = key_from_pem(root_key_pem);
  } catch (const std::exception&) {
    throw std::runtime_error("cannot load the root key " + current.root_key());
  }
  // The current issuing CA's key type, read from its certificate: its private key is not needed.
  const X509Ptr current_issuing = load_cert_file(current.issuing());
  const EVP_PKEY* current_public = X509_get0_pubkey(current_issuing.get());
  if (current_public == nullptr) throw std::runtime_error("cannot read the public key of " + current.issuing());
  // A distinct name (dated) as well as a distinct key: path builders and people both tell
  // the two issuing CAs apart by subject while they overlap.
  EvpPkeyPtr next_key = generate_key(key_type_of(current_public));
  std::vector<X509Ptr> path;
  path.push_back(make_issuing_ca(o, o.organization + " Issuing CA " + utc_date(now_unix()), next_key.get(), root.get(),
                                 root_key.get()));
  path.push_back(up_ref(root.get()));
  stage_atomically(current, [&](const CaPaths& staged) {
    write_key(staged.issuing_key(), next_key.get());
    write_ca_certificates(staged, path);
    write_service_certificates(o, staged, path.front().get(), next_key.get(), registry);
  });
}

void stage_imported_rollover(const BootstrapOptions& o, Registry& registry, const std::string& issuing_cert_path,
                             const std::string& issuing_key_path, const std::string& chain_path) {
  const CaPaths current{o.ca_dir};
  const ImportedCa ca = load_imported_ca(issuing_cert_path, issuing_key_path, chain_path);
  const X509Ptr current_issuing = load_cert_file(current.issuing());
  if (X509_cmp(ca.issuing.get(), current_issuing.get()) == 0 ||
      key_matches_certificate(current_issuing.get(), ca.key.get())) {
    throw std::runtime_error(issuing_cert_path + " is the current issuing CA (or has its key): a rollover needs a new key");
  }
  stage_atomically(current, [&](const CaPaths& staged) { write_imported_ca(o, staged, ca, registry); });
}

}  // namespace portcullis::ca
