// Certificate profiles: what an issued certificate may contain. Issuance copies from the
// CSR only what the profile allows (never CA:true, never arbitrary extensions).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace portcullis::ca {

struct Profile {
  std::string name;                                   // "device", "server", …
  int validity_days = 365;
  std::vector<std::string> extended_key_usage;        // "clientAuth", "serverAuth"
  // SAN types copied from the CSR: any of "dns", "email", "uri", "ip".
  std::vector<std::string> allowed_san_types = {"dns", "email", "uri"};
  // Subject RDNs kept from the CSR, in this order; others are dropped. Empty CN is refused.
  std::vector<std::string> subject_attributes = {"CN", "O", "OU"};
  int min_rsa_bits = 2048;
  std::vector<std::string> allowed_curves = {"P-256", "P-384"};
  // SCEP enrollments (not renewals) in this profile wait for an operator's decision:
  // CertRep PENDING (RFC 8894 §3.3.2) until `portcullis requests approve|reject`.
  bool manual_approval = false;
};

using Profiles = std::map<std::string, Profile>;

// The built-in "device" (clientAuth) and "server" (serverAuth) profiles.
Profiles default_profiles();

}  // namespace portcullis::ca
