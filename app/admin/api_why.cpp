// Admin API: why a device, MAC or certificate is (not) let in, in plain words.
//   GET /api/v1/why/{target}  target: a MAC in any usual form, a certificate serial, a device
//     name or id -> {"target","looked_up_as":"mac|serial|device","verdict":"accepted|rejected|
//     never_seen","summary":"…","latest":[{"nas","ssid","time","outcome","reason","explanation"}…]}
// The latest RADIUS outcome per NAS and SSID (the newest first) from the decision events
// (docs/events.md), each explained with what to do next. `portcullis why` prints `summary`
// and exits 0 (accepted), 2 (rejected) or 1 (never seen).
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"
#include "ca/event.hpp"

#include <set>

namespace portcullis::app {

using admin::ApiError;
using admin::json;

namespace {

constexpr std::size_t kEventsLooked = 500;   // newest RADIUS events of the target considered

std::string certificate_of(const ca::Event& e) { return e.serial.empty() ? "its certificate" : "certificate " + e.serial; }

std::string revocation_words(ca::Ledger& ledger, const ca::Event& e) {
  const auto cert = ledger.find_certificate(e.serial);
  if (!cert || !cert->revoked) return certificate_of(e) + " was revoked";
  std::string who;
  ca::AuditFilter f;
  f.target = cert->serial_hex;
  f.action = "revoke";
  f.limit = 1;
  if (const auto rows = ledger.audit(f); !rows.empty()) who = " by " + rows.front().actor;
  return certificate_of(e) + " was revoked on " + admin::iso8601(cert->revoked_at) + who + " (" +
         ca::to_string(cert->revocation_reason) + ")";
}

std::string enroll_hint(const ca::Event& e) {
  return e.device.empty() ? "enroll the device again"
                          : "issue a new one: `portcullis challenge --device " + e.device + "`";
}

// One outcome in words, with what to do next.
std::string explain(ca::Ledger& ledger, const ca::Event& e) {
  const std::string& r = e.reason;
  if (e.outcome == "accept") return "accepted (rule " + e.rule + ", " + certificate_of(e) + ")";
  if (e.outcome == "abandoned")
    return "the device stopped answering half-way (" + e.detail +
           "); a device that does not trust this server's certificate often gives up silently like this";
  if (r == "revoked") return revocation_words(ledger, e) + "; to let the device back in, " + enroll_hint(e);
  if (r == "expired") return certificate_of(e) + " has expired; " + enroll_hint(e);
  if (r == "not_yet_valid") return certificate_of(e) + " is not valid yet: check the device's clock";
  if (r == "device_disabled")
    return "the device is disabled; to let it back in: `portcullis devices enable " + e.device + "`";
  if (r == "tls_alert:unknown_ca" && e.detail.starts_with("the client sent"))
    return "the device does not trust this server's certificate (it sent alert unknown_ca): its profile must "
           "install ca/root.pem";
  if (r.starts_with("tls_alert:")) return "the TLS handshake failed: " + e.detail;
  if (r == "unknown_issuer") return "it presented a certificate from another CA (issuer " + e.issuer + ")";
  if (r == "unknown_certificate")
    return "it presented a certificate naming this CA that the ledger does not hold (serial " + e.serial +
           "); enroll the device again";
  if (r == "no_client_certificate") return "it sent no client certificate: install its certificate (enroll it)";
  if (r == "eap_method") return "it is not set up for EAP-TLS: " + e.detail;
  if (r.starts_with("policy:")) return "the policy rule '" + e.rule + "' rejected it: " + e.detail;
  if (r == "session_table_full") return "the server had no room for the conversation: " + e.detail;
  return e.detail.empty() ? r : e.detail;
}

}  // namespace

HttpResponse AdminApi::why(const std::map<std::string, std::string>& query, const std::string& target) {
  admin::check_query(query, {});
  if (target.empty() || target.size() > 255) throw ApiError(400, "a device, MAC or serial is needed");
  ca::Ledger& ledger = registry_.ledger();
  ca::EventFilter filter;
  filter.kind = ca::event_kind::kRadius;
  filter.limit = kEventsLooked;
  std::string looked_up_as;
  // A serial the ledger holds first: twelve hex digits could be either.
  std::optional<std::string> serial;
  try {
    serial = admin::checked_serial(target);
  } catch (const ApiError&) {
    // Not a serial: a MAC or a device name.
  }
  if (serial && ledger.find_certificate(*serial)) {
    filter.serial = serial;
    looked_up_as = "serial";
  } else if (auto mac = ca::normalize_mac(target)) {
    filter.mac = std::move(mac);
    looked_up_as = "mac";
  } else {
    std::string name = target;
    if (admin::all_digits(target) && target.size() <= 18) {
      if (auto d = ledger.find_device(std::stoll(target))) name = d->name;
    }
    filter.device = name;
    looked_up_as = "device";
  }
  const std::vector<ca::Event> events = ledger.events(filter);

  json latest = json::array();
  std::set<std::pair<std::string, std::string>> seen;
  std::string summary;
  for (const ca::Event& e : events) {
    if (!seen.insert({e.nas, e.ssid}).second) continue;
    const std::string words = explain(ledger, e);
    latest.push_back(json{{"nas", e.nas}, {"ssid", e.ssid}, {"time", admin::iso8601(e.at)}, {"outcome", e.outcome},
                          {"reason", e.reason}, {"device", e.device}, {"serial", e.serial}, {"mac", e.mac},
                          {"explanation", words}});
    summary += (summary.empty() ? "" : " ") + std::string("On NAS ") + e.nas +
               (e.ssid.empty() ? "" : " (SSID " + e.ssid + ")") + " at " + admin::iso8601(e.at) + ": " + words + ".";
  }
  std::string verdict = "never_seen";
  if (events.empty()) {
    summary = "nothing from " + target + " in the decision events (as " + looked_up_as +
              "; events are kept for [events] keep_days)";
  } else {
    verdict = events.front().outcome == "accept" ? "accepted" : "rejected";
  }
  return admin::json_response(200, json{{"target", target},
                                        {"looked_up_as", looked_up_as},
                                        {"verdict", verdict},
                                        {"summary", summary},
                                        {"latest", std::move(latest)}});
}

}  // namespace portcullis::app
