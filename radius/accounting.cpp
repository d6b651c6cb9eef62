#include "radius/accounting.hpp"

#include "radius/attribute_values.hpp"

#include "ca/log_text.hpp"
#include "policy/conditions.hpp"
#include "ca/hex.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace portcullis::radius {
namespace {

std::string text_attribute(const Packet& p, std::uint8_t type) {
  const Attribute* a = p.find(type);
  return a == nullptr ? std::string() : std::string(a->value.begin(), a->value.end());
}

const char* status_name(std::optional<std::uint32_t> status) {
  if (!status) return "(none)";
  switch (static_cast<AcctStatus>(*status)) {
    case AcctStatus::start: return "Start";
    case AcctStatus::stop: return "Stop";
    case AcctStatus::interim_update: return "Interim-Update";
    case AcctStatus::accounting_on: return "Accounting-On";
    case AcctStatus::accounting_off: return "Accounting-Off";
  }
  return "other";
}

// The live session an accounting record describes, tied to the Accept `link` found for it.
LiveSession session_of(const Packet& request, const NasClient& nas, const IpAddress& source,
                       const std::optional<AcceptRecord>& link, ca::UnixTime now) {
  LiveSession session;
  session.nas = nas.name;
  session.acct_session_id = text_attribute(request, attr::AcctSessionId);
  session.serial = link ? link->serial : std::string();
  session.calling_station_id = text_attribute(request, attr::CallingStationId);
  // Kept for display only; never used to link (the peer chooses it).
  session.user_name = text_attribute(request, attr::UserName);
  if (auto ssid = policy::ssid_from_called_station(text_attribute(request, attr::CalledStationId)))
    session.ssid = ca::log_safe(*ssid);
  session.nas_identity = nas_identity_of(request, source);
  session.last_seen = now;
  // RFC 2869 §5.16: the NAS's interim interval, taken as at least 60 s as that section
  // asks, so that a tiny value cannot make live sessions expire between two updates
  // (the live table also caps it at kMaxInterimInterval for its deadlines).
  if (auto interval = request.integer(attr::AcctInterimInterval); interval && *interval > 0)
    session.interim_interval = std::max<std::uint32_t>(*interval, kMinInterimInterval);
  if (link && !link->rule.empty()) {
    session.rule = link->rule;
    session.coa_on_disable = link->coa_on_disable;
    session.coa_reply = link->coa_reply;
  }
  return session;
}

Packet accounting_response(const Packet& request) {
  Packet response;
  response.code = Code::AccountingResponse;
  response.identifier = request.identifier;
  copy_proxy_state(request, response);  // RFC 2865 §5.33 applies to accounting too (RFC 2866 §5.x)
  return response;
}

}  // namespace

Accounting::Accounting(LedgerWriter& writer, AcceptRecords& accepts, AccountingSessions& live,
                       Counters& counters, std::function<ca::UnixTime()> clock, AccountingRetention retention)
    : writer_(writer),
      accepts_(accepts),
      live_(live),
      counters_(counters),
      clock_(std::move(clock)),
      retention_(retention) {}

// Class first (it names exactly one Accept), then the latest Accept this NAS got for
// this Calling-Station-Id. A NAS may send several Class attributes (RFC 2865 §5.25); ours
// is the one with our prefix.
std::optional<AcceptRecord> Accounting::link_of(const Packet& request, const NasClient& nas,
                                                const std::string& station, const char*& linked_by) const {
  for (const auto& a : request.attributes) {
    if (a.type != attr::Class) continue;
    const std::string token(a.value.begin(), a.value.end());
    if (token.rfind("pc1:", 0) != 0) continue;
    if (auto link = accepts_.by_token(token)) {
      linked_by = "Class";
      return link;
    }
  }
  linked_by = "Calling-Station-Id";
  if (station.empty()) return std::nullopt;
  return accepts_.by_calling_station(nas.name, station);
}

// If the close is lost (queue full, write failed), the row stays live in the ledger; at
// the next start it is reloaded at its updated_at and expires again.
void Accounting::close_gone(const std::vector<LiveSession>& gone, ca::UnixTime now) {
  if (gone.empty()) return;
  std::vector<ca::RadiusSessionRow> rows;
  for (const LiveSession& s : gone) {
    bump(counters_.acct_sessions_expired);
    spdlog::info("radius accounting: session nas={} session={} serial={} closed: silent past its deadline or "
                 "pushed out by the live-session bound", s.nas, ca::log_field(s.acct_session_id),
                 s.serial.empty() ? "-" : s.serial);
    ca::RadiusSessionRow& row = rows.emplace_back();
    fill_row(row, s);
    row.started_at = row.updated_at = now;
    row.stopped_at = now;
  }
  writer_.submit("close expired sessions", [rows = std::move(rows)](ca::Ledger& ledger) {
    for (const ca::RadiusSessionRow& row : rows) ledger.record_radius_session(row);
  });
}

void Accounting::prune_if_due(ca::UnixTime now) {
  ca::UnixTime last = last_prune_.load();
  if (now - last < retention_.prune_every || !last_prune_.compare_exchange_strong(last, now)) return;
  writer_.submit("prune stopped sessions", [before = now - retention_.stopped_seconds,
                                            max_rows = retention_.max_rows](ca::Ledger& ledger) {
    const std::size_t deleted = ledger.prune_radius_sessions(before, max_rows);
    if (deleted > 0) spdlog::info("radius accounting: {} stopped session row(s) pruned from the ledger", deleted);
  });
}

std::optional<Packet> Accounting::handle(const Packet& request, const NasClient& nas, const IpAddress& source) {
  const ca::UnixTime now = clock_();
  close_gone(live_.expire(now), now);
  prune_if_due(now);
  const auto status = request.integer(attr::AcctStatusType);
  if (status == static_cast<std::uint32_t>(AcctStatus::accounting_on) ||
      status == static_cast<std::uint32_t>(AcctStatus::accounting_off))
    return nas_restarted(request, nas, source, *status == static_cast<std::uint32_t>(AcctStatus::accounting_on));
  const std::string session_id = text_attribute(request, attr::AcctSessionId);
  const std::string station = text_attribute(request, attr::CallingStationId);

  const bool session_record = status && (*status == static_cast<std::uint32_t>(AcctStatus::start) ||
                                         *status == static_cast<std::uint32_t>(AcctStatus::stop) ||
                                         *status == static_cast<std::uint32_t>(AcctStatus::interim_update));
  if (session_record && !session_id.empty()) {
    const char* linked_by = "none";
    const std::optional<AcceptRecord> link = link_of(request, nas, station, linked_by);

    LiveSession session = session_of(request, nas, source, link, now);
    ca::RadiusSessionRow row;
    fill_row(row, session);
    row.started_at = row.updated_at = now;
    const bool stop = *status == static_cast<std::uint32_t>(AcctStatus::stop);
    if (stop) row.stopped_at = row.updated_at;
    const std::string what =
        std::string(status_name(status)) + " nas=" + nas.name + " session=" + ca::log_field(session_id);
    const bool full = writer_.ledger_full();  // before the submit: this record may be the write that clears it
    if (!writer_.submit(what, [row](ca::Ledger& ledger) { ledger.record_radius_session(row); })) {
      bump(counters_.acct_store_failed);
      spdlog::error("radius accounting: {} not recorded (ledger write queue full); not answering so the NAS retries",
                    what);
      return std::nullopt;
    }
    if (full) {
      // Queued as a probe of the disk, but the last write found it full: RFC 2866 §2, no
      // answer, and the NAS's retransmission is answered once a write has succeeded.
      bump(counters_.acct_store_failed);
      spdlog::error("radius accounting: {} probably not recorded (the ledger's disk is full); not answering so the "
                    "NAS retries", what);
      return std::nullopt;
    }
    // From now on the session is known by its Acct-Session-Id, no longer by its Accept alone.
    if (link) accepts_.claim(*link);
    if (stop) live_.stop(nas.name, session_id);
    else close_gone(live_.upsert(std::move(session)), now);
    bump(*status == static_cast<std::uint32_t>(AcctStatus::start) ? counters_.acct_start
         : stop                                                    ? counters_.acct_stop
                                                                   : counters_.acct_interim);
    bump(link ? counters_.acct_linked : counters_.acct_unlinked);
    spdlog::info("radius accounting: {} nas={} session={} calling_station={} serial={} device={} linked_by={}",
                 status_name(status), nas.name, ca::log_field(session_id), ca::log_field(station),
                 link ? link->serial : "-", link && !link->device.empty() ? link->device : "-",
                 link ? linked_by : "none");
  } else {
    // A session record without Acct-Session-Id (RFC 2866 §5.5 makes it mandatory), or
    // another status type: nothing to store, but RFC 2866 §4.1 still wants a response.
    bump(counters_.acct_other);
    spdlog::info("radius accounting: {} nas={} session={} (not recorded)", status_name(status), nas.name,
                 ca::log_field(session_id));
  }

  return accounting_response(request);
}

// RFC 2866 §5.1: Accounting-On / Accounting-Off mean the NAS (re)started or is going
// down: none of the sessions it had is live any more, so none must get a Disconnect later.
std::optional<Packet> Accounting::nas_restarted(const Packet& request, const NasClient& nas, const IpAddress& source,
                                                bool on) {
  const ca::UnixTime now = clock_();
  const char* kind = on ? "Accounting-On" : "Accounting-Off";
  const bool queued = writer_.submit(
      std::string(kind) + " nas=" + nas.name,
      [kind, nas_name = nas.name, address = source.to_string(), now](ca::Ledger& ledger) {
        const std::size_t closed = ledger.stop_radius_sessions_of_nas(nas_name, address, now);
        spdlog::info("radius accounting: {} nas={} from {}: {} session(s) closed in the ledger", kind, nas_name,
                     address, closed);
      });
  if (!queued) {
    bump(counters_.acct_store_failed);
    spdlog::error("radius accounting: {} nas={} not recorded (ledger write queue full); not answering so the NAS "
                  "retries", kind, nas.name);
    return std::nullopt;
  }
  const std::size_t closed_live = live_.stop_nas(nas.name, source);
  bump(counters_.acct_other);
  spdlog::info("radius accounting: {} nas={} from {}: {} live session(s) closed", kind, nas.name,
               source.to_string(), closed_live);
  Packet response;
  response.code = Code::AccountingResponse;
  response.identifier = request.identifier;
  copy_proxy_state(request, response);
  return response;
}

namespace {

Bytes attributes_wire(const std::vector<Attribute>& attributes) {
  Bytes out;
  for (const Attribute& a : attributes) {
    out.push_back(a.type);
    out.push_back(static_cast<std::uint8_t>(2 + a.value.size()));
    out.insert(out.end(), a.value.begin(), a.value.end());
  }
  return out;
}

// Throws std::invalid_argument on a truncated or malformed attribute (RFC 2865 §5).
std::vector<Attribute> attributes_from_wire(const Bytes& wire) {
  std::vector<Attribute> out;
  for (std::size_t off = 0; off < wire.size();) {
    const std::size_t len = off + 2 <= wire.size() ? wire[off + 1] : 0;
    if (len < 2 || off + len > wire.size()) throw std::invalid_argument("truncated attribute");
    out.push_back(Attribute{wire[off], Bytes(wire.begin() + static_cast<long>(off) + 2,
                                             wire.begin() + static_cast<long>(off + len))});
    off += len;
  }
  return out;
}

}  // namespace

void fill_row(ca::RadiusSessionRow& row, const LiveSession& s) {
  row.nas = s.nas;
  row.acct_session_id = s.acct_session_id;
  row.serial = s.serial;
  row.calling_station_id = s.calling_station_id;
  row.user_name = s.user_name;
  row.ssid = s.ssid;
  row.nas_address = s.nas_identity.source ? s.nas_identity.source->to_string() : std::string();
  row.nas_ip_address = s.nas_identity.nas_ip_address ? ipv4_to_string(*s.nas_identity.nas_ip_address) : std::string();
  row.nas_ipv6_address =
      s.nas_identity.nas_ipv6_address ? ipv6_to_string(*s.nas_identity.nas_ipv6_address) : std::string();
  row.nas_identifier = s.nas_identity.nas_identifier;
  row.rule = s.rule;
  row.coa_reply = s.coa_on_disable ? "c:" + ca::to_hex(attributes_wire(s.coa_reply)) : std::string();
}

LiveSession live_session_from_row(const ca::RadiusSessionRow& row) {
  LiveSession s;
  s.nas = row.nas;
  s.acct_session_id = row.acct_session_id;
  s.serial = row.serial;
  s.calling_station_id = row.calling_station_id;
  s.user_name = row.user_name;
  s.ssid = row.ssid;
  s.nas_identity.source = IpAddress::parse(row.nas_address);
  if (auto a = IpAddress::parse(row.nas_ip_address); a && a->is_v4()) {
    s.nas_identity.nas_ip_address.emplace();
    std::copy(a->bytes.begin() + 12, a->bytes.end(), s.nas_identity.nas_ip_address->begin());
  }
  if (auto a = IpAddress::parse(row.nas_ipv6_address); a && !a->is_v4()) s.nas_identity.nas_ipv6_address = a->bytes;
  s.nas_identity.nas_identifier = row.nas_identifier;
  s.rule = row.rule;
  if (row.coa_reply.rfind("c:", 0) == 0) {
    // Our rows are written by to_hex; a damaged one costs this session its CoA (a disable
    // then sends a Disconnect), never the start-up.
    try {
      s.coa_reply = attributes_from_wire(ca::from_hex(std::string_view(row.coa_reply).substr(2)));
      s.coa_on_disable = true;
    } catch (const std::exception& e) {
      spdlog::warn("radius accounting: session nas={} id={}: stored CoA reply unreadable ({}); a disable sends a "
                   "Disconnect-Request", row.nas, ca::log_safe(row.acct_session_id), e.what());
    }
  }
  s.dynauth = row.dynauth;
  return s;
}

std::size_t reload_live_sessions(ca::RadiusSessionStore& ledger, AccountingSessions& live) {
  std::size_t n = 0;
  for (const ca::RadiusSessionRow& row : ledger.list_radius_sessions(true, std::numeric_limits<std::size_t>::max())) {
    LiveSession s = live_session_from_row(row);
    s.last_seen = row.updated_at;
    live.upsert(std::move(s));
    ++n;
  }
  return n;
}

}  // namespace portcullis::radius
