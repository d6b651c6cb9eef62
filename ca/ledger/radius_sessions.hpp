// RADIUS accounting sessions (RFC 2866) and the Disconnect/CoA outcomes (RFC 5176) marked
// on them.
#pragma once

#include "ca/records.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::ca {

// One RADIUS accounting session (RFC 2866), keyed by (nas, acct_session_id).
struct RadiusSessionRow {
  std::int64_t id = 0;              // read only: the row's id, stable for the session's life
  std::string nas;                  // NAS name from the config
  std::string acct_session_id;      // RFC 2866 §5.5
  std::string serial;               // certificate that authenticated it; "" when not linked
  std::string calling_station_id;
  std::string user_name;
  std::string ssid;                 // from Called-Station-Id "MAC:SSID" (RFC 3580 §3.20); "" = none
  UnixTime started_at = 0;          // kept from the first record of the session
  UnixTime updated_at = 0;
  std::optional<UnixTime> stopped_at;   // set by Accounting-Stop; never cleared again
  std::string device;               // read only: the device of `serial`, "" when unknown
  // Schema v5, what an RFC 5176 Disconnect-/CoA-Request needs after a restart. "" = unknown
  // (an empty value never overwrites a known one).
  std::string nas_address;          // where the NAS's requests come from (its CoA server's address)
  std::string nas_ip_address;       // NAS-IP-Address as the NAS sent it (dotted quad)
  std::string nas_ipv6_address;     // NAS-IPv6-Address as the NAS sent it
  std::string nas_identifier;       // NAS-Identifier as the NAS sent it
  std::string rule;                 // the policy rule that accepted the session
  std::string coa_reply;            // hex of the wire attributes a device disable sends in a CoA-Request; "" = Disconnect
  std::string dynauth;              // last Disconnect/CoA outcome, "" = none sent
  std::optional<UnixTime> dynauth_at;
};

// The outcome of one Disconnect-/CoA-Request for a session (RFC 5176).
struct RadiusSessionMark {
  std::string nas;
  std::string acct_session_id;
  std::string outcome;              // "Disconnect ACK", "Disconnect NAK 503 (Session-Context-Not-Found)", "timeout", …
  UnixTime at = 0;
  bool ended = false;               // the NAS confirmed the session is gone: stopped_at = at unless already set
};

struct RadiusSessionFilter {
  bool live_only = true;                // not stopped
  std::optional<std::int64_t> id;
  std::optional<std::string> nas;       // NAS name
  std::optional<std::string> ssid;
  std::optional<std::string> device;    // the device name of the session's certificate
  std::size_t limit = 100;
};

// Which node sends the Disconnect-/CoA-Request for a session (RFC 5176) when several
// nodes hold it in memory (a NAS that failed its accounting over to another node, a node
// that reloaded the live sessions at start-up): the one whose claim lands first. `claim`
// names the cause ("revoked", "expired", "disabled"), so each cause is acted on once per
// session, across every node of a shared ledger.
inline constexpr const char* kClaimRevoked = "revoked";
inline constexpr const char* kClaimExpired = "expired";
inline constexpr const char* kClaimDisabled = "disabled";

struct RadiusSessionClaim {
  std::string nas;
  std::string acct_session_id;
  std::string serial;               // for a row the accounting writer has not written yet
  std::string calling_station_id;
  std::string user_name;
  UnixTime at = 0;
};

// Sessions keyed by (nas, acct_session_id); the table is kept bounded by prune.
class RadiusSessionStore {
 public:
  virtual ~RadiusSessionStore() = default;

  // Upsert by (nas, acct_session_id) in one transaction: started_at stays the first one seen,
  // an empty serial/calling_station_id/user_name never overwrites a known one, and a stop
  // is never undone by a late Interim-Update.
  virtual void record_radius_session(const RadiusSessionRow& row) = 0;
  // Newest first (by updated_at, then id).
  virtual std::vector<RadiusSessionRow> radius_sessions(const RadiusSessionFilter& filter) = 0;
  std::vector<RadiusSessionRow> list_radius_sessions(bool live_only, std::size_t limit) {
    RadiusSessionFilter filter;
    filter.live_only = live_only;
    filter.limit = limit;
    return radius_sessions(filter);
  }
  // Records Disconnect/CoA outcomes, all in one transaction (many arrive together after a
  // bulk revocation; one fsync for all of them). Unknown sessions are skipped.
  virtual void mark_radius_sessions(const std::vector<RadiusSessionMark>& marks) = 0;
  // Claims the sessions for `claim` in one transaction: true at i when this call took
  // sessions[i]'s claim (its row held another claim or none), false when some node had
  // already taken it for the same cause. A session whose accounting row is not written yet
  // gets a row with what the claim knows (the accounting upsert fills in the rest later).
  // Enabling a device clears the "disabled" claims of its sessions (set_device_enabled),
  // so that a later disable is acted on again.
  virtual std::vector<bool> claim_radius_sessions(const std::vector<RadiusSessionClaim>& sessions,
                                                  const std::string& claim) = 0;
  // Accounting-On/Off (RFC 2866 §5.1): every live session of that NAS (and, when
  // `nas_address` is not empty, of that source address or an unknown one) is stopped at `at`.
  // Returns how many.
  virtual std::size_t stop_radius_sessions_of_nas(const std::string& nas, const std::string& nas_address,
                                                  UnixTime at) = 0;
  // Keeps the table bounded: deletes the stopped sessions that stopped before
  // `stopped_before`, then the oldest stopped ones past `max_rows` rows in all. Live rows
  // are never deleted (the live table bounds them). Returns how many were deleted.
  virtual std::size_t prune_radius_sessions(UnixTime stopped_before, std::size_t max_rows) = 0;
};

}  // namespace portcullis::ca
