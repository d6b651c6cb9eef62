// Admin API: RADIUS accounting sessions (RFC 2866) and ending one (RFC 5176).
//   GET  /api/v1/sessions?live=true|false(true)&nas=&ssid=&device=&limit=1..1000(100)
//        -> {"sessions":[S…],"limit"} newest first (by last update); nas: the NAS client's
//        name; ssid: exact; device: a device name or id (404 unknown)
//   POST /api/v1/sessions/{id}/disconnect  (no body, or {})
//        -> 202 {"session":S}: a Disconnect-Request is on its way to the session's NAS through
//        the session control (app/session_control.hpp), with its retransmissions; the NAS's
//        answer lands in S.dynauth ("Disconnect ACK", "Disconnect NAK 503 (…)", "Disconnect
//        timeout") and an ACK stops the session. Audited "session.disconnect" (target
//        "<nas>/<acct_session_id>"). 404 unknown id, 409 the session is not live, 503 RADIUS
//        is not running.
// S is listed at the top of api.cpp.
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"
#include "ca/log_text.hpp"

#include <charconv>

namespace portcullis::app {

using admin::ApiError;
using admin::json;

namespace {

json session_json(const ca::RadiusSessionRow& row) {
  json s = {{"id", row.id},
            {"nas", row.nas},
            {"acct_session_id", row.acct_session_id},
            {"calling_station_id", row.calling_station_id},
            {"user_name", row.user_name},
            {"ssid", row.ssid},
            {"serial", row.serial},
            {"device", row.device},
            {"started_at", admin::iso8601(row.started_at)},
            {"started_at_unix", row.started_at},
            {"updated_at", admin::iso8601(row.updated_at)},
            {"updated_at_unix", row.updated_at},
            {"stopped_at", nullptr},
            {"stopped_at_unix", nullptr},
            {"nas_address", row.nas_address},
            {"rule", row.rule},
            {"dynauth", row.dynauth},
            {"dynauth_at", row.dynauth_at ? json(admin::iso8601(*row.dynauth_at)) : json(nullptr)}};
  if (row.stopped_at) {
    s["stopped_at"] = admin::iso8601(*row.stopped_at);
    s["stopped_at_unix"] = *row.stopped_at;
  }
  return s;
}

std::optional<std::string> text_param(const std::map<std::string, std::string>& query, const char* name) {
  const std::string* value = admin::query_param(query, name);
  if (value == nullptr || value->empty()) return std::nullopt;
  return admin::checked_text(*value, name, 1, 255);
}

}  // namespace

HttpResponse AdminApi::list_sessions(const std::map<std::string, std::string>& query) {
  admin::check_query(query, {"live", "nas", "ssid", "device", "limit"});
  ca::RadiusSessionFilter filter;
  if (const auto* value = admin::query_param(query, "live")) {
    if (*value == "true" || *value == "1") filter.live_only = true;
    else if (*value == "false" || *value == "0") filter.live_only = false;
    else throw ApiError(400, "live must be true or false");
  }
  filter.nas = text_param(query, "nas");
  filter.ssid = text_param(query, "ssid");
  if (auto device = text_param(query, "device")) filter.device = resolve_device(*device).name;
  filter.limit = admin::count_param(query, "limit", 100, 1, 1000);
  json sessions = json::array();
  for (const auto& row : registry_.ledger().radius_sessions(filter)) sessions.push_back(session_json(row));
  return admin::json_response(200, json{{"sessions", sessions}, {"limit", filter.limit}});
}

HttpResponse AdminApi::disconnect_session(const HttpRequest& request, const std::string& actor,
                                          const std::string& id_text) {
  admin::parse_body(request, {}, true);
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc{} || end != id_text.data() + id_text.size() || id <= 0)
    throw ApiError(404, "no session " + admin::checked_text(id_text, "session id", 0, 64));
  ca::RadiusSessionFilter filter;
  filter.live_only = false;
  filter.id = id;
  filter.limit = 1;
  ca::Ledger& ledger = registry_.ledger();
  const auto rows = ledger.radius_sessions(filter);
  if (rows.empty()) throw ApiError(404, "no session " + std::to_string(id));
  const ca::RadiusSessionRow& row = rows.front();
  if (row.stopped_at) throw ApiError(409, "session " + std::to_string(id) + " is not live (it stopped at " +
                                              admin::iso8601(*row.stopped_at) + ")");
  if (!disconnect_ || !disconnect_(row, "operator request by " + actor))
    throw ApiError(503, "RADIUS is not running: no Disconnect-Request can be sent");
  ca::AuditEntry entry;
  entry.at = ca::now_unix();
  entry.actor = actor;
  entry.action = "session.disconnect";
  entry.target = row.nas + "/" + ca::log_safe(row.acct_session_id);
  entry.detail = "id=" + std::to_string(id) + (row.device.empty() ? "" : " device=" + row.device) +
                 (row.calling_station_id.empty() ? "" : " calling_station=" + ca::log_safe(row.calling_station_id));
  ledger.append_audit(entry);
  return admin::json_response(202, json{{"session", session_json(row)}});
}

}  // namespace portcullis::app
