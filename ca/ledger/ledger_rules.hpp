// What every ledger backend checks and writes the same way: input validation, the
// normalised forms of serials and search text, and the audit details. Private to ca/.
#pragma once

#include "ca/ledger/ledger.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace portcullis::ca::detail {

// size_t counts (limits, offsets) as a bound int64 parameter, saturated.
std::int64_t clamp_count(std::size_t n);

// Names are stored verbatim (quotes, semicolons and the like round-trip: every value is
// a bound parameter). Only what would break logs or C strings is refused (LedgerConflict).
void validate_new_device(const NewDevice& device);
void validate_groups(const std::vector<std::string>& groups);

// The audit detail of a change of groups: "id=7 groups: a,b -> b,c".
std::string groups_detail(std::int64_t id, const std::vector<std::string>& before,
                          const std::vector<std::string>& after);

// The spellings NASes use for a MAC in Calling-Station-Id (RFC 3580 §3.21 recommends
// "00-10-A4-23-19-C0"; others send colons, no separator, or Cisco's dotted form), upper
// and lower case, for a normalised one (aa:bb:cc:dd:ee:ff): accounting rows keep the
// attribute as sent.
std::vector<std::string> mac_spellings(const std::string& normalized);
inline constexpr std::size_t kMacSpellings = 8;

// LIKE pattern (with ESCAPE '\') for a literal substring: %, _ and the escape character
// itself are escaped.
std::string like_substring(const std::string& text);

// A stored CRLReason code (RFC 5280 §5.3.1); codes this build does not know read as
// unspecified.
RevocationReason reason_from_code(std::int64_t code);

// record_issuance's checks before any write (LedgerConflict): the device named by exactly
// one of id or name, a serial of 1 to 20 octets, a SHA-256 fingerprint and a DER. The
// serial and fingerprint are put in canonical form, issued_at defaults to now.
void prepare_issuance(const DeviceRef& ref, CertificateRecord& record);

// The audit detail of an issuance (never the DER).
std::string issue_detail(const Device& device, const CertificateRecord& record);

// Actor kRefusalActor with kRefusalAction or kRefusalSummaryAction: the rows the audit
// log's delete trigger lets append_refusals prune.
bool is_refusal_row(const AuditEntry& entry);

// mint_challenge's checks before any write (LedgerConflict): the secret's hash as 64
// lowercase hex digits, a profile, an expiry after `now`.
void validate_new_challenge(const NewChallenge& challenge, UnixTime now);

}  // namespace portcullis::ca::detail
