// The only path to a signature: CSR + profile + device -> certificate + ledger row.
// Everything the certificate contains is decided here from the profile; the CSR only
// contributes its public key and the subject/SAN values the profile lets through.
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
  for (const auto& a : p.subject_attributes) {
    if (OBJ_txt2nid(a.c_str()) == NID_undef) {
      throw std::invalid_argument("profile '" + p.name + "': unknown subject attribute '" + a + "'");
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
// and subjectAltName are looked at; everything else is ignored, never copied.
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

// IA5String SAN values must be printable ASCII: an embedded NUL or control character is the
// classic way to make "evil.com\0.good.com" look like a different name to a relying party.
bool printable_ia5(const ASN1_STRING* s) {
  const unsigned char* p = ASN1_STRING_get0_data(s);
  const int n = ASN1_STRING_length(s);
  if (n <= 0) return false;
  return std::all_of(p, p + n, [](unsigned char c) { return c >= 0x21 && c <= 0x7E; });
}

GeneralNamesPtr allowed_sans(const GENERAL_NAMES* requested, const Profile& profile) {
  GeneralNamesPtr out(check_ptr(GENERAL_NAMES_new(), "GENERAL_NAMES_new"));
  if (requested == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(requested); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(requested, i);
    int type = 0;
    const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(gn, &type));
    const bool allowed = std::any_of(profile.allowed_san_types.begin(), profile.allowed_san_types.end(),
                                     [&](const std::string& t) { return san_type_of(t) == type; });
    if (!allowed) continue;  // the profile decides; other names are dropped, not refused
    if (type == GEN_IPADD) {
      const int len = ASN1_STRING_length(value);
      if (len != 4 && len != 16) throw IssuanceRejected("malformed IP address in subjectAltName");
    } else if (!printable_ia5(value)) {
      throw IssuanceRejected("subjectAltName contains an empty value or non-printable characters");
    }
    GeneralNamePtr copy(check_ptr(GENERAL_NAME_dup(gn), "GENERAL_NAME_dup"));
    if (sk_GENERAL_NAME_push(out.get(), copy.get()) <= 0) throw OpenSslError("sk_GENERAL_NAME_push");
    copy.release();
  }
  return out;
}

// The issued subject: the profile's attributes, in the profile's order, copied from the CSR.
X509NamePtr allowed_subject(const X509_NAME* requested, const Profile& profile) {
  X509NamePtr out(check_ptr(X509_NAME_new(), "X509_NAME_new"));
  bool have_cn = false;
  for (const auto& attr : profile.subject_attributes) {
    const int nid = OBJ_txt2nid(attr.c_str());
    for (int i = X509_NAME_get_index_by_NID(requested, nid, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(requested, nid, i)) {
      const X509_NAME_ENTRY* entry = X509_NAME_get_entry(requested, i);
      const ASN1_STRING* data = X509_NAME_ENTRY_get_data(entry);
      if (ASN1_STRING_length(data) <= 0) continue;
      if (nid == NID_commonName) have_cn = true;
      check(X509_NAME_add_entry(out.get(), entry, -1, 0), "X509_NAME_add_entry");
    }
  }
  if (!have_cn) throw IssuanceRejected("CSR subject has no CN");
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
    : authority_(authority), profiles_(std::move(profiles)), urls_(std::move(urls)), registry_(registry) {
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
  c.subject = allowed_subject(X509_REQ_get_subject_name(c.req), *c.profile);
  c.sans = allowed_sans(requested.sans.get(), *c.profile);
  return c;
}

void Issuer::check(const IssueRequest& request) const { (void)checked(request); }

IssueResult Issuer::issue(const IssueRequest& request) {
  Checked c = checked(request);
  EVP_PKEY* key = c.key.get();   // RSA as a legacy-method key: see legacy_rsa_public_key
  const Profile& profile = *c.profile;
  X509NamePtr subject = std::move(c.subject);
  GeneralNamesPtr sans = std::move(c.sans);

  const X509* issuing = authority_.issuing();
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
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
    sign_certificate(cert.get(), authority_.issuing_key(), authority_.signing_digest());

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
      return IssueResult{std::move(cert), std::move(record), std::move(outcome.device), outcome.device_created};
    } catch (const DuplicateSerial&) {
      if (attempt >= kSerialAttempts) throw;
    }
  }
}

}  // namespace portcullis::ca
