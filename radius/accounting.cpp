#include "radius/accounting.hpp"

#include "radius/attribute_values.hpp"

#include <spdlog/spdlog.h>

namespace portcullis::radius {
namespace {

std::string text_attribute(const Packet& p, std::uint8_t type) {
  const Attribute* a = p.find(type);
  return a == nullptr ? std::string() : std::string(a->value.begin(), a->value.end());
}

// NAS-supplied text goes into log lines as printable ASCII only, so it cannot forge lines.
std::string printable(std::string s) {
  if (s.empty()) return "-";
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return s;
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

}  // namespace

Accounting::Accounting(ca::Ledger& ledger, const AcceptRecords& accepts, AccountingSessions& live,
                       Counters& counters, std::function<ca::UnixTime()> clock)
    : ledger_(ledger), accepts_(accepts), live_(live), counters_(counters), clock_(std::move(clock)) {}

std::optional<Packet> Accounting::handle(const Packet& request, const NasClient& nas) {
  const auto status = request.integer(attr::AcctStatusType);
  const std::string session_id = text_attribute(request, attr::AcctSessionId);
  const std::string station = text_attribute(request, attr::CallingStationId);
  const std::string user = text_attribute(request, attr::UserName);

  const bool session_record = status && (*status == static_cast<std::uint32_t>(AcctStatus::start) ||
                                         *status == static_cast<std::uint32_t>(AcctStatus::stop) ||
                                         *status == static_cast<std::uint32_t>(AcctStatus::interim_update));
  if (session_record && !session_id.empty()) {
    // Class first (it names exactly one Accept), then the fallbacks. A NAS may send several
    // Class attributes (RFC 2865 §5.25); ours is the one with our prefix.
    std::optional<AcceptRecord> link;
    for (const auto& a : request.attributes) {
      if (a.type != attr::Class) continue;
      const std::string token(a.value.begin(), a.value.end());
      if (token.rfind("pc1:", 0) == 0 && (link = accepts_.by_token(token))) break;
    }
    const char* linked_by = "Class";
    if (!link && !station.empty() && (link = accepts_.by_calling_station(station))) linked_by = "Calling-Station-Id";
    if (!link && !user.empty() && (link = accepts_.by_user_name(user))) linked_by = "User-Name";

    ca::RadiusSessionRow row;
    row.nas = nas.name;
    row.acct_session_id = session_id;
    row.serial = link ? link->serial : std::string();
    row.calling_station_id = station;
    row.user_name = user;
    row.started_at = row.updated_at = clock_();
    const bool stop = *status == static_cast<std::uint32_t>(AcctStatus::stop);
    if (stop) row.stopped_at = row.updated_at;
    try {
      ledger_.record_radius_session(row);
    } catch (const std::exception& e) {
      bump(counters_.acct_store_failed);
      spdlog::error("radius accounting: {} nas={} session={} not recorded ({}); not answering so the NAS retries",
                    status_name(status), nas.name, printable(session_id), e.what());
      return std::nullopt;
    }
    if (stop) live_.stop(nas.name, session_id);
    else live_.upsert(LiveSession{nas.name, session_id, row.serial, station});
    bump(*status == static_cast<std::uint32_t>(AcctStatus::start) ? counters_.acct_start
         : stop                                                    ? counters_.acct_stop
                                                                   : counters_.acct_interim);
    bump(link ? counters_.acct_linked : counters_.acct_unlinked);
    spdlog::info("radius accounting: {} nas={} session={} calling_station={} serial={} device={} linked_by={}",
                 status_name(status), nas.name, printable(session_id), printable(station),
                 link ? link->serial : "-", link && !link->device.empty() ? link->device : "-",
                 link ? linked_by : "none");
  } else {
    // Accounting-On/Off, or a session record without Acct-Session-Id (RFC 2866 §5.5 makes
    // it mandatory): nothing to store, but RFC 2866 §4.1 still wants a response.
    bump(counters_.acct_other);
    spdlog::info("radius accounting: {} nas={} session={} (not recorded)", status_name(status), nas.name,
                 printable(session_id));
  }

  Packet response;
  response.code = Code::AccountingResponse;
  response.identifier = request.identifier;
  copy_proxy_state(request, response);  // RFC 2865 §5.33 applies to accounting too (RFC 2866 §5.x)
  return response;
}

}  // namespace portcullis::radius
