// Plain data that the ledger stores and the front ends read. No behaviour here.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::ca {

using UnixTime = std::int64_t;  // seconds since the epoch, UTC

// The wall clock in that unit: every timestamp the ledger stores and every default clock.
inline UnixTime now_unix() { return static_cast<UnixTime>(std::time(nullptr)); }

struct Device {
  std::int64_t id = 0;
  std::string name;                 // unique, the handle admins and the CLI use
  std::string display_name;
  std::string owner;
  std::vector<std::string> groups;  // groups/tags, used by policy rules later
  bool enabled = true;
  UnixTime created_at = 0;
};

struct NewDevice {
  std::string name;
  std::string display_name;
  std::string owner;
  std::vector<std::string> groups;
};

// RFC 5280 §5.3.1 CRLReason codes (7 is unused).
enum class RevocationReason : int {
  unspecified = 0,
  key_compromise = 1,
  ca_compromise = 2,
  affiliation_changed = 3,
  superseded = 4,
  cessation_of_operation = 5,
  certificate_hold = 6,
  privilege_withdrawn = 9,
  aa_compromise = 10,
};
std::optional<RevocationReason> parse_revocation_reason(const std::string& name);  // "keyCompromise", "key_compromise", "1"
std::string to_string(RevocationReason reason);                                     // "keyCompromise"

struct CertificateRecord {
  std::string serial_hex;            // uppercase hex of the serial's magnitude, as ca::serial_hex
  std::int64_t device_id = 0;
  std::string profile;
  std::string subject;               // RFC 2253
  std::vector<std::string> sans;     // "DNS:…", "URI:…", …
  std::string sha256_fingerprint;    // uppercase hex over the DER
  UnixTime not_before = 0;
  UnixTime not_after = 0;
  UnixTime issued_at = 0;
  bool revoked = false;
  UnixTime revoked_at = 0;
  RevocationReason revocation_reason = RevocationReason::unspecified;
  std::vector<std::uint8_t> der;
};

struct AuditEntry {
  std::int64_t id = 0;
  UnixTime at = 0;
  std::string actor;    // token name, "cli", "scep", "system"
  std::string action;   // "issue", "revoke", "device.create", "device.disable", "device.enable", "challenge.mint", …
  std::string target;   // serial or device name
  std::string detail;   // free text, never a secret
};

struct RevokedEntry {  // what a CRL needs
  std::string serial_hex;
  UnixTime revoked_at = 0;
  RevocationReason reason = RevocationReason::unspecified;
};

}  // namespace portcullis::ca
