// The only path to a signature: CSR + profile + names + device -> certificate + ledger row.
// Everything the certificate contains is decided here from the profile and the names the
// caller built; the CSR only contributes its public key (and proves possession of it).
#include "ca/issuer.hpp"

#include "ca/cert_builder.hpp"
#include "ca/keys.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>

#include <algorithm>
#include <ctime>

namespace portcullis::ca {

namespace {

// Devices with a clock a few minutes behind would otherwise reject a fresh certificate.
constexpr std::int64_t kClockSkew = 300;
constexpr std::int64_t kDay = 86400;
// A duplicate 128-bit random serial is astronomically unlikely; more than a few in a row
// means something else is wrong (a broken RNG), and we must not loop forever.
constexpr int kSerialAttempts = 5;

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

int san_type_of(const std::string& name) {
  if (name == "dns") return GEN_DNS;
  if (name == "email") return GEN_EMAIL;
  if (name == "uri") return GEN_URI;
  if (name == "ip") return GEN_IPADD;
  return -1;
}

// The profile is configuration: reject mistakes at start-up, not at the first enrollment.
void validate_profile(const Profile& p) {
  if (p.validity_days <= 0) throw std::invalid_argument("profile '" + p.name + "': validity_days must be positive");
  for (const auto& eku : p.extended_key_usage) {
    if (OBJ_txt2nid(eku.c_str()) == NID_undef) {
      throw std::invalid_argument("profile '" + p.name + "': unknown extended key usage '" + eku + "'");
    }
  }
  for (const auto& t : p.allowed_san_types) {
    if (san_type_of(t) < 0) throw std::invalid_argument("profile '" + p.name + "': unknown SAN type '" + t + "'");
  }
  bool has_cn = false;
  for (const auto& rdn : p.subject_template) {
    const std::size_t eq = rdn.find('=');
    if (eq == std::string::npos || OBJ_txt2nid(rdn.substr(0, eq).c_str()) == NID_undef) {
      throw std::invalid_argument("profile '" + p.name + "': subject_template entry '" + rdn +
                                  "' is not ATTR=value with a known attribute");
    }
    has_cn = has_cn || rdn.substr(0, eq) == "CN";
  }
  if (!has_cn) throw std::invalid_argument("profile '" + p.name + "': subject_template needs a CN");
  for (const auto& san : p.san_templates) {
    const std::size_t colon = san.find(':');
    if (colon == std::string::npos || !contains(p.allowed_san_types, san.substr(0, colon))) {
      throw std::invalid_argument("profile '" + p.name + "': san_templates entry '" + san +
                                  "' must be type:value with a type in allowed_san_types");
    }
  }
  ERR_clear_error();
}

void check_key(const EVP_PKEY* key, const Profile& profile) {
  if (is_rsa(key)) {
    if (EVP_PKEY_get_bits(key) < profile.min_rsa_bits) {
      throw IssuanceRejected("RSA key too small: " + std::to_string(EVP_PKEY_get_bits(key)) + " bits, at least " +
                             std::to_string(profile.min_rsa_bits) + " required");
    }
    return;
  }
  if (is_ec(key)) {
    const std::string curve = ec_curve_name(key);
    if (curve.empty() || !contains(profile.allowed_curves, curve)) {
      throw IssuanceRejected("EC curve " + (curve.empty() ? std::string("(unnamed)") : curve) +
                             " not allowed by profile '" + profile.name + "'");
    }
    return;
  }
  throw IssuanceRejected("unsupported key type (RSA or EC required)");
}

// The extensions the requester asked for (RFC 2986 extensionRequest). Only basicConstraints
// and subjectAltName are looked at; nothing is ever copied.
struct RequestedExtensions {
  GeneralNamesPtr sans;
};

RequestedExtensions read_requested_extensions(X509_REQ* req) {
  RequestedExtensions out;
  X509ExtensionStackPtr exts(X509_REQ_get_extensions(req));
  ERR_clear_error();  // absent or undecodable extensionRequest: nothing is copied either way
  if (!exts) return out;

  int crit = 0;
  BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(X509V3_get_d2i(exts.get(), NID_basic_constraints, &crit, nullptr)));
  if (!bc && crit != -1) throw IssuanceRejected("malformed basicConstraints in CSR");
  // RFC 5280 §4.2.1.9: only a CA may assert cA; a device asking for it is refused outright
  // rather than silently downgraded, so the attempt is visible to the requester and logs.
  if (bc && bc->ca) throw IssuanceRejected("CSR requests CA:true");

  out.sans.reset(static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts.get(), NID_subject_alt_name, &crit, nullptr)));
  if (!out.sans && crit != -1) throw IssuanceRejected("malformed subjectAltName in CSR");
  ERR_clear_error();
  return out;
}

// The issued subject, exactly as named; one non-empty CN (what devices and policy key on).
X509NamePtr subject_of(const IssuedNames& names) {
  int cns = 0;
  for (const auto& [attr, value] : names.subject) {
    if (OBJ_txt2nid(attr.c_str()) == NID_undef) throw IssuanceRejected("unknown subject attribute '" + attr + "'");
    if (value.empty()) throw IssuanceRejected("subject attribute " + attr + " is empty");
    if (attr == "CN") ++cns;
  }
  ERR_clear_error();
  if (cns != 1) throw IssuanceRejected("the subject needs exactly one CN");
  try {
    return make_name(names.subject);
  } catch (const std::exception&) {
    ERR_clear_error();
    throw IssuanceRejected("subject attribute value not accepted");
  }
}

GeneralNamesPtr sans_of(const IssuedNames& names, const Profile& profile) {
  GeneralNamesPtr out(check_ptr(GENERAL_NAMES_new(), "GENERAL_NAMES_new"));
  for (const std::string& san : names.sans) {
    const std::string type = san.substr(0, san.find(':'));
    if (!contains(profile.allowed_san_types, type))
      throw IssuanceRejected("profile '" + profile.name + "' does not allow " + type + " SANs");
    GeneralNamePtr gn;
    try {
      gn = parse_san(san);
    } catch (const std::invalid_argument& e) {
      throw IssuanceRejected(e.what());
    }
    if (sk_GENERAL_NAME_push(out.get(), gn.get()) <= 0) throw OpenSslError("sk_GENERAL_NAME_push");
    gn.release();
  }
  return out;
}

// What the CSR asked for that the certificate does not carry.
std::vector<std::string> left_out_of(X509_REQ* req, const GENERAL_NAMES* requested_sans, const IssuedNames& names) {
  std::vector<std::string> issued;
  for (const auto& [attr, value] : names.subject) issued.push_back(attr + "=" + value);
  std::vector<std::string> out;
  for (std::string& rdn : subject_texts(X509_REQ_get_subject_name(req)))
    if (!contains(issued, rdn)) out.push_back(std::move(rdn));
  for (int i = 0; requested_sans != nullptr && i < sk_GENERAL_NAME_num(requested_sans); ++i) {
    std::string san = lowercase_san_type(general_name_to_string(sk_GENERAL_NAME_value(requested_sans, i)));
    if (san.empty()) san = "(a SAN of another type)";
    if (!contains(names.sans, san)) out.push_back(std::move(san));
  }
  return out;
}

std::vector<int> eku_nids(const Profile& profile) {
  std::vector<int> nids;
  for (const auto& name : profile.extended_key_usage) nids.push_back(OBJ_txt2nid(name.c_str()));
  return nids;
}

}  // namespace

Bytes random_serial() {
  // RFC 5280 §4.1.2.2: positive, at most 20 octets, unpredictable (CA/B BR 7.1: >= 64
  // bits of CSPRNG output). 0x40 keeps the DER INTEGER at exactly 16 octets with no
  // leading zero byte, so every serial has the same length.
  Bytes serial = random_bytes(16);
  serial[0] = static_cast<std::uint8_t>((serial[0] & 0x7F) | 0x40);
  return serial;
}

Issuer::Issuer(const Authority& authority, Profiles profiles, IssuerUrls urls, Registry& registry)
    : Issuer(SigningCa{authority.issuing(), authority.issuing_key(), authority.signing_digest()}, std::move(profiles),
             std::move(urls), registry) {}

Issuer::Issuer(SigningCa ca, Profiles profiles, IssuerUrls urls, Registry& registry)
    : ca_(ca), profiles_(std::move(profiles)), urls_(std::move(urls)), registry_(registry) {
  if (ca_.certificate == nullptr || ca_.key == nullptr || ca_.digest == nullptr)
    throw std::invalid_argument("an issuer needs the CA certificate, key and digest");
  for (const auto& [name, profile] : profiles_) validate_profile(profile);
}

// The CSR after every policy check: what the certificate will be made of.
struct Issuer::Checked {
  X509ReqPtr owned;                 // parsed here, unless the request brought it parsed
  X509_REQ* req = nullptr;          // owned, or the request's parsed_csr
  EvpPkeyPtr key;                   // csr_public_key(req)
  const Profile* profile = nullptr;
  X509NamePtr subject;
  GeneralNamesPtr sans;
  std::vector<std::string> left_out;
};

Issuer::Checked Issuer::checked(const IssueRequest& request) const {
  Checked c;
  if (request.parsed_csr != nullptr) {
    // The X509_REQ_* getters below take non-const pointers but do not modify.
    c.req = const_cast<X509_REQ*>(request.parsed_csr);
  } else {
    try {
      c.owned = csr_from_pem_or_der(request.csr);
    } catch (const std::invalid_argument&) {
      throw IssuanceRejected("malformed CSR");
    }
    c.req = c.owned.get();
  }
  // RFC 2986 §3: the signature proves possession of the private key.
  c.key = csr_public_key(c.req);
  // The default library context explicitly: a CSR parsed without its key (SCEP) carries
  // an algorithm-less one (csr_from_der_without_key).
  if (!c.key || X509_REQ_verify_ex(c.req, c.key.get(), nullptr, nullptr) != 1) {
    ERR_clear_error();
    throw IssuanceRejected("CSR signature does not verify");
  }
  const auto found = profiles_.find(request.profile);
  if (found == profiles_.end()) throw IssuanceRejected("unknown profile '" + request.profile + "'");
  c.profile = &found->second;
  check_key(c.key.get(), *c.profile);

  const RequestedExtensions requested = read_requested_extensions(c.req);
  c.subject = subject_of(request.names);
  c.sans = sans_of(request.names, *c.profile);
  c.left_out = left_out_of(c.req, requested.sans.get(), request.names);
  return c;
}

void Issuer::check(const IssueRequest& request) const { (void)checked(request); }

IssuedNames Issuer::names_for(const std::string& profile, const std::string& device, const std::string& cn,
                              const std::vector<std::string>& pinned_sans) const {
  const auto found = profiles_.find(profile);
  if (found == profiles_.end()) throw IssuanceRejected("unknown profile '" + profile + "'");
  return names_from_templates(found->second, device, cn, pinned_sans);
}

IssueResult Issuer::issue(const IssueRequest& request) {
  Checked c = checked(request);
  EVP_PKEY* key = c.key.get();   // RSA as a legacy-method key: see legacy_rsa_public_key
  const Profile& profile = *c.profile;
  X509NamePtr subject = std::move(c.subject);
  GeneralNamesPtr sans = std::move(c.sans);

  const X509* issuing = ca_.certificate;
  const std::int64_t now = now_unix();
  const std::int64_t not_before = now - kClockSkew;
  // RFC 5280 §6.1.3: a certificate outliving its issuer would fail path validation.
  const std::int64_t not_after = std::min(now + profile.validity_days * kDay, not_after_unix(issuing));
  if (not_after <= now) throw std::runtime_error("the issuing CA certificate has expired");

  for (int attempt = 1;; ++attempt) {
    X509Ptr cert = new_certificate(random_serial(), subject.get(), X509_get_subject_name(issuing),
                                   key, not_before, not_after);
    add_basic_constraints(cert.get(), false, std::nullopt);
    // keyEncipherment only where it can apply: RSA key transport (TLS 1.2 RSA, S/MIME).
    if (is_rsa(key)) {
      add_key_usage(cert.get(), {ku_digital_signature, ku_key_encipherment});
    } else {
      add_key_usage(cert.get(), {ku_digital_signature});
    }
    if (!profile.extended_key_usage.empty()) add_extended_key_usage(cert.get(), eku_nids(profile));
    if (sk_GENERAL_NAME_num(sans.get()) > 0) add_subject_alt_names(cert.get(), sans.get());
    add_subject_key_identifier(cert.get());
    add_authority_key_identifier(cert.get(), issuing);
    if (!urls_.crl_url.empty()) add_crl_distribution_point(cert.get(), urls_.crl_url);
    if (!urls_.ocsp_url.empty()) add_ocsp_access(cert.get(), urls_.ocsp_url);
    sign_certificate(cert.get(), ca_.key, ca_.digest);

    CertificateRecord record;
    record.serial_hex = serial_hex(cert.get());
    record.profile = profile.name;
    record.subject = subject_string(cert.get());
    record.sans = subject_alt_names(cert.get());
    record.sha256_fingerprint = sha256_fingerprint_hex(cert.get());
    record.not_before = not_before_unix(cert.get());
    record.not_after = not_after_unix(cert.get());
    record.issued_at = now;
    record.der = cert_to_der(cert.get());

    try {
      IssuanceOutcome outcome = registry_.record_issuance(request.device, record, request.actor);
      record.device_id = outcome.device.id;
      return IssueResult{std::move(cert), std::move(record), std::move(outcome.device), outcome.device_created,
                         std::move(c.left_out)};
    } catch (const DuplicateSerial&) {
      if (attempt >= kSerialAttempts) throw;
    }
  }
}

}  // namespace portcullis::ca
