// RFC 2866 accounting: Start / Interim-Update / Stop recorded per (NAS, Acct-Session-Id)
// in the ledger and in the live table, tied to the certificate serial of the Access-Accept
// only by what we gave or saw: our Class token (RFC 2865 §5.25: the NAS echoes Class in
// accounting), else the latest Accept of the same NAS for the same Calling-Station-Id.
// Sessions silent too long leave the live table and are closed in the ledger; stopped
// rows are pruned (AccountingRetention).
// The caller (Server) has already verified the Request Authenticator (RFC 2866 §3).
//
// RFC 2866 §2: the Accounting-Response says the record is stored. It is sent once the
// record is in the live table (memory) and queued for the ledger writer
// (radius/ledger_writer.hpp), before the row is durable on disk: the io thread must not
// wait behind the ledger's fsync. The live table is what Disconnect/CoA act on; the
// ledger row is the record, normally on disk milliseconds later. A crash in between loses
// that row (the NAS will not resend it), and a write that fails on the writer thread is
// counted (ledger_write_failed) and logged. When the writer's queue is full, or its last
// write found the disk full, the record is not answered, so the NAS retransmits it.
#pragma once

#include "ca/ledger/ledger.hpp"
#include "radius/clients.hpp"
#include "radius/counters.hpp"
#include "radius/ledger_writer.hpp"
#include "radius/packet.hpp"
#include "radius/sessions.hpp"

#include <atomic>
#include <functional>
#include <optional>

namespace portcullis::radius {

// RFC 2866 §5.1 Acct-Status-Type values.
enum class AcctStatus : std::uint32_t { start = 1, stop = 2, interim_update = 3, accounting_on = 7, accounting_off = 8 };

// How long stopped sessions stay in the ledger, and how many rows it keeps at most.
struct AccountingRetention {
  ca::UnixTime stopped_seconds = 30 * 86400;
  std::size_t max_rows = 1000000;
  ca::UnixTime prune_every = 60;  // seconds between two prunes
};

class Accounting {
 public:
  Accounting(LedgerWriter& writer, AcceptRecords& accepts, AccountingSessions& live, Counters& counters,
             std::function<ca::UnixTime()> clock, AccountingRetention retention = {});

  // The Accounting-Response to send (not yet encoded), or nullopt when the record could
  // not be queued for the ledger or the ledger's disk is full: RFC 2866 §2 forbids
  // answering then, so the NAS retransmits. Never waits for the disk.
  // `source`: where the request came from (where the NAS takes Disconnect-Requests).
  std::optional<Packet> handle(const Packet& request, const NasClient& nas, const IpAddress& source);

 private:
  std::optional<Packet> nas_restarted(const Packet& request, const NasClient& nas, const IpAddress& source,
                                      bool on);
  std::optional<AcceptRecord> link_of(const Packet& request, const NasClient& nas, const std::string& station,
                                      const char*& linked_by) const;
  // Closes in the ledger the sessions that left the live table without a Stop.
  void close_gone(const std::vector<LiveSession>& gone, ca::UnixTime now);
  void prune_if_due(ca::UnixTime now);

  LedgerWriter& writer_;
  AcceptRecords& accepts_;
  AccountingSessions& live_;
  Counters& counters_;
  std::function<ca::UnixTime()> clock_;
  AccountingRetention retention_;
  std::atomic<ca::UnixTime> last_prune_{0};
};

// The ledger row of a live session and back (schema v5 columns: NAS identification,
// the policy's CoA attributes); used to reload the live table at start-up.
void fill_row(ca::RadiusSessionRow& row, const LiveSession& session);
LiveSession live_session_from_row(const ca::RadiusSessionRow& row);
// Loads every live (not stopped) session of the ledger into `live` (each last seen at its
// row's updated_at, so one silent too long expires); returns how many.
std::size_t reload_live_sessions(ca::RadiusSessionStore& ledger, AccountingSessions& live);

}  // namespace portcullis::radius
