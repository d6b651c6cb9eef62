#include "ca/issued_names.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace portcullis::ca {
namespace {

std::string fill(std::string text, const std::string& device, const std::string& cn) {
  for (const auto& [key, value] : {std::pair<std::string, const std::string&>{"{cn}", cn}, {"{device}", device}}) {
    for (std::size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
      text.replace(at, key.size(), value);
  }
  return text;
}

// RFC 5280 §4.2.1.6: dNSName, rfc822Name and URI are IA5Strings. Printable ASCII only: an
// embedded NUL or control character is the classic way to make "evil.com\0.good.com" read
// as another name to a relying party.
bool printable_ascii(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7E; });
}

}  // namespace

IssuedNames names_from_templates(const Profile& profile, const std::string& device, const std::string& cn,
                                 const std::vector<std::string>& pinned_sans) {
  IssuedNames out;
  for (const std::string& rdn : profile.subject_template) {
    const std::size_t eq = rdn.find('=');
    out.subject.emplace_back(rdn.substr(0, eq), fill(rdn.substr(eq + 1), device, cn));
  }
  for (const std::string& san : profile.san_templates) out.sans.push_back(fill(san, device, cn));
  for (const std::string& san : pinned_sans)
    if (std::find(out.sans.begin(), out.sans.end(), san) == out.sans.end()) out.sans.push_back(san);
  return out;
}

std::vector<std::string> subject_texts(const X509_NAME* name) {
  std::vector<std::string> out;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const char* sn = nid != NID_undef ? OBJ_nid2sn(nid) : "?";
    out.push_back(std::string(sn) + "=" + utf8_text(X509_NAME_ENTRY_get_data(e)));
  }
  return out;
}

IssuedNames names_of(const X509* cert) {
  IssuedNames out;
  for (const std::string& rdn : subject_texts(X509_get_subject_name(cert))) {
    const std::size_t eq = rdn.find('=');
    out.subject.emplace_back(rdn.substr(0, eq), rdn.substr(eq + 1));
  }
  for (const std::string& san : subject_alt_names(cert)) out.sans.push_back(lowercase_san_type(san));
  return out;
}

std::string lowercase_san_type(std::string san) {
  const std::size_t colon = san.find(':');
  for (std::size_t i = 0; i < colon && i < san.size(); ++i)
    san[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(san[i])));
  return san;
}

GeneralNamePtr parse_san(const std::string& san) {
  const std::size_t colon = san.find(':');
  if (colon == std::string::npos || !printable_ascii(san))
    throw std::invalid_argument("a SAN is type:value in printable ASCII (dns:NAME, email:ADDR, uri:URI, ip:ADDR)");
  const std::string type = san.substr(0, colon);
  const std::string value = san.substr(colon + 1);
  GeneralNamePtr gn(check_ptr(GENERAL_NAME_new(), "GENERAL_NAME_new"));
  if (type == "ip") {
    Asn1OctetStringPtr ip(a2i_IPADDRESS(value.c_str()));
    ERR_clear_error();
    if (!ip) throw std::invalid_argument("SAN \"" + san + "\": not an IP address");
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, ip.release());
    return gn;
  }
  const int kind = type == "dns" ? GEN_DNS : type == "email" ? GEN_EMAIL : type == "uri" ? GEN_URI : -1;
  if (kind < 0) throw std::invalid_argument("SAN \"" + san + "\": type must be dns, email, uri or ip");
  // The value is not echoed: it may hold the very control characters refused here.
  if (!printable_ascii(value)) throw std::invalid_argument("a " + type + " SAN value must be printable ASCII");
  Asn1StringPtr ia5(check_ptr(ASN1_IA5STRING_new(), "ASN1_IA5STRING_new"));
  check(ASN1_STRING_set(ia5.get(), value.data(), static_cast<int>(value.size())), "ASN1_STRING_set");
  GENERAL_NAME_set0_value(gn.get(), kind, ia5.release());
  return gn;
}

}  // namespace portcullis::ca
