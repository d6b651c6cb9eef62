// What an issued certificate names: its subject (RFC 5280 §4.1.2.6) and subjectAltName
// (§4.2.1.6). They come from the device record, the profile's templates and what an
// operator pinned (a one-time challenge, an admin call), or from the certificate a
// renewal replaces; never from the requester's CSR, which would let a device choose the
// names that policy rules match on (docs/security.md).
#pragma once

#include "ca/profile.hpp"
#include "ca/x509.hpp"

#include <string>
#include <utility>
#include <vector>

namespace portcullis::ca {

struct IssuedNames {
  std::vector<std::pair<std::string, std::string>> subject;  // RDNs in order: {"CN", "ipad-7"}, {"O", "Acme"}
  std::vector<std::string> sans;                             // "dns:NAME", "email:ADDR", "uri:URI", "ip:ADDR"
};

// The profile's subject and SAN templates with "{cn}" and "{device}" filled in, then the
// pinned SANs. `cn` is what the certificate's CN names (the device name unless an
// operator pinned another).
IssuedNames names_from_templates(const Profile& profile, const std::string& device, const std::string& cn,
                                 const std::vector<std::string>& pinned_sans);

// The subject and SANs `cert` carries: a renewal keeps them.
IssuedNames names_of(const X509* cert);

// "type:value" checked and parsed (type one of dns, email, uri, ip; an IA5 value printable
// ASCII, an IP address literal): throws std::invalid_argument with the reason.
GeneralNamePtr parse_san(const std::string& san);
// ca::subject_alt_names' "DNS:x" / "URI:y" / "IP:z" in the lowercase form above.
std::string lowercase_san_type(std::string san);
// "CN=x" for each RDN of `name` and "dns:y" for each SAN of a CSR: what a requester asked.
std::vector<std::string> subject_texts(const X509_NAME* name);

}  // namespace portcullis::ca
