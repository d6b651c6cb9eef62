// RFC 2866 accounting: Start / Interim-Update / Stop recorded per (NAS, Acct-Session-Id)
// in the ledger and in the live table, tied to the certificate serial of the Access-Accept
// through our Class token (RFC 2865 §5.25: the NAS echoes Class in accounting), with the
// Calling-Station-Id and then the User-Name of the latest Accept as fallbacks.
// The caller (Server) has already verified the Request Authenticator (RFC 2866 §3).
#pragma once

#include "ca/ledger.hpp"
#include "radius/clients.hpp"
#include "radius/counters.hpp"
#include "radius/packet.hpp"
#include "radius/sessions.hpp"

#include <functional>
#include <optional>

namespace portcullis::radius {

// RFC 2866 §5.1 Acct-Status-Type values.
enum class AcctStatus : std::uint32_t { start = 1, stop = 2, interim_update = 3, accounting_on = 7, accounting_off = 8 };

class Accounting {
 public:
  Accounting(ca::Ledger& ledger, AcceptRecords& accepts, AccountingSessions& live, Counters& counters,
             std::function<ca::UnixTime()> clock);

  // The Accounting-Response to send (not yet encoded), or nullopt when the record could
  // not be stored: RFC 2866 §2 forbids answering then, so the NAS retransmits.
  // `source`: where the request came from (where the NAS takes Disconnect-Requests).
  std::optional<Packet> handle(const Packet& request, const NasClient& nas, const IpAddress& source);

 private:
  std::optional<Packet> nas_restarted(const Packet& request, const NasClient& nas, const IpAddress& source,
                                      bool on);

  ca::Ledger& ledger_;
  AcceptRecords& accepts_;
  AccountingSessions& live_;
  Counters& counters_;
  std::function<ca::UnixTime()> clock_;
};

// The ledger row of a live session and back (schema v5 columns: NAS identification,
// the policy's CoA attributes); used to reload the live table at start-up.
void fill_row(ca::RadiusSessionRow& row, const LiveSession& session);
LiveSession live_session_from_row(const ca::RadiusSessionRow& row);
// Loads every live (not stopped) session of the ledger into `live`; returns how many.
std::size_t reload_live_sessions(ca::Ledger& ledger, AccountingSessions& live);

}  // namespace portcullis::radius
