// Certificate profiles: what an issued certificate contains. From the CSR only the public
// key is taken; the names come from the templates here, filled from the device record,
// and from what an operator pinned (ca/issued_names.hpp).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace portcullis::ca {

struct Profile {
  std::string name;                                   // "device", "server", …
  int validity_days = 365;
  std::vector<std::string> extended_key_usage;        // "clientAuth", "serverAuth"
  // SAN types an issued certificate may carry: any of "dns", "email", "uri", "ip".
  std::vector<std::string> allowed_san_types = {"dns", "email", "uri"};
  // The subject, RDN by RDN: "ATTR=value", where "{cn}" is the certificate's CN (the
  // device name unless an operator pinned another) and "{device}" the device name.
  std::vector<std::string> subject_template = {"CN={cn}"};
  // SANs every certificate of the profile carries ("dns:{device}.corp.example"), before
  // the ones an operator pinned.
  std::vector<std::string> san_templates;
  int min_rsa_bits = 2048;
  std::vector<std::string> allowed_curves = {"P-256", "P-384"};
  // SCEP enrollments (not renewals) in this profile wait for an operator's decision:
  // CertRep PENDING (RFC 8894 §3.3.2) until `portcullis requests approve|reject`.
  bool manual_approval = false;
  // A device enrolling again in this profile (a new enrollment, not a renewal): its
  // earlier valid certificates of the profile are revoked as superseded (RFC 5280 §5.3.1)
  // once the new one is issued. false: they stay valid until they expire.
  bool revoke_on_reenroll = true;
  // A renewal (RFC 8894 §3.3.1.2) is accepted only within this many days before the
  // signing certificate's notAfter; 0: at any time while it is valid.
  int renew_before_days = 0;
};

using Profiles = std::map<std::string, Profile>;

// The built-in profile of NAS certificates (RadSec clients): they name a NAS, never a device,
// so EAP-TLS refuses them although they carry clientAuth.
inline constexpr const char* kNasProfile = "nas";

// The built-in "device" (clientAuth), "server" (serverAuth) and "nas" (both, for RadSec
// clients) profiles.
Profiles default_profiles();

}  // namespace portcullis::ca
