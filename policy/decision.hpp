// What a policy decides for one authentication, and the narrow interface radius/ calls
// (radius/ reaches policy/ through a `Decider`, so radius::Server
// is testable with no policy at all: a null Decider accepts every valid device).
#pragma once

#include "ca/records.hpp"
#include "policy/access_context.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::policy {

// One wire attribute of a reply, resolved and validated when the rules are loaded.
struct ReplyAttribute {
  std::string name;                 // as written in the rule (for logs, the admin API, `policy test`)
  std::string value_text;           // as written in the rule
  std::uint8_t type = 0;            // RADIUS type; 26 = Vendor-Specific (value then holds vendor id + sub-attribute)
  std::vector<std::uint8_t> value;  // wire value (tag octet included for tagged attributes)
};

// What to do with a live session when its device is disabled (RFC 5176): cut it, or move
// it with a CoA-Request carrying `coa_reply` (e.g. a quarantine VLAN). Revocation always
// disconnects.
enum class SessionAction { disconnect, coa };
const char* to_string(SessionAction action);

struct Decision {
  bool accept = true;
  std::string rule = "default";                    // the rule that decided; "default" when none matched
  std::string reason;                              // reject reason, safe to log
  std::vector<ReplyAttribute> reply;               // Accept attributes, in rule order
  std::optional<std::uint32_t> session_timeout;    // seconds; the server caps it (capped_session_timeout)
  SessionAction on_disable = SessionAction::disconnect;
  std::vector<ReplyAttribute> coa_reply;           // for SessionAction::coa
};

// RFC 2865 §5.27 Session-Timeout for an Accept: the rule's value, never more than the
// server's maximum, and never past the certificate's notAfter (the session must not
// outlive the credential). At least 1 second.
std::uint32_t capped_session_timeout(std::optional<std::uint32_t> rule_timeout, std::uint32_t max_timeout,
                                     ca::UnixTime cert_not_after, ca::UnixTime now);

class Decider {
 public:
  virtual ~Decider() = default;
  // Safe from any thread; never blocks on a reload.
  virtual Decision decide(const AccessContext& context) const = 0;
};

}  // namespace portcullis::policy
