// Names of RFC 5280 §5.3.1 CRLReason codes, for the CLI, the admin API and the audit log.
#include "ca/records.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <string_view>

namespace portcullis::ca {
namespace {

struct ReasonName {
  RevocationReason reason;
  std::string_view rfc_name;  // the ASN.1 enumeration identifier in RFC 5280 §5.3.1
};

constexpr std::array<ReasonName, 9> kReasons{{
    {RevocationReason::unspecified, "unspecified"},
    {RevocationReason::key_compromise, "keyCompromise"},
    {RevocationReason::ca_compromise, "cACompromise"},
    {RevocationReason::affiliation_changed, "affiliationChanged"},
    {RevocationReason::superseded, "superseded"},
    {RevocationReason::cessation_of_operation, "cessationOfOperation"},
    {RevocationReason::certificate_hold, "certificateHold"},
    {RevocationReason::privilege_withdrawn, "privilegeWithdrawn"},
    {RevocationReason::aa_compromise, "aACompromise"},
}};

// "keyCompromise", "key_compromise", "KEY-COMPROMISE" and "cACompromise"/"ca_compromise"
// all fold to "keycompromise" / "cacompromise": lower case, separators dropped.
std::string fold(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '_' || c == '-' || c == ' ') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace

std::optional<RevocationReason> parse_revocation_reason(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(name.front())) != 0) {
    int code = -1;
    const auto* end = name.data() + name.size();
    auto [ptr, ec] = std::from_chars(name.data(), end, code);
    if (ec != std::errc{} || ptr != end) return std::nullopt;
    for (const auto& r : kReasons) {
      if (static_cast<int>(r.reason) == code) return r.reason;
    }
    return std::nullopt;  // 7 is unused and 8 (removeFromCRL) is for delta CRLs only
  }
  const std::string folded = fold(name);
  for (const auto& r : kReasons) {
    if (fold(r.rfc_name) == folded) return r.reason;
  }
  return std::nullopt;
}

std::string to_string(RevocationReason reason) {
  for (const auto& r : kReasons) {
    if (r.reason == reason) return std::string(r.rfc_name);
  }
  return "unspecified";
}

}  // namespace portcullis::ca
