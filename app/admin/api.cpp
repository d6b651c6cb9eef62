// Admin API, /api/v1 (JSON; request bodies are objects, unknown fields are refused).
//
// Authentication: every route except GET /api/v1/health needs "Authorization: Bearer <token>"
// (RFC 6750 §2.1), or the browser console's session cookie (set_cookie_auth, app/console; a
// state change with the cookie also needs its X-CSRF-Token, else 403). The token's SHA-256 is compared, in constant time, with each hash from
// the config; a missing and a wrong token get the same 401 and WWW-Authenticate: Bearer.
// The token's name is the audit actor, "api:<name>".
//
// Routes ({device} is a decimal id, or else a name; names cannot be all digits):
//   GET  /devices?search=&enabled=true|false&group=&mac=&serial=&limit=1..1000(100)&offset=
//        -> {"devices":[D…],"total","limit","offset"} by id; total counts every match.
//        search: a substring of name, display name or owner; group: exact name; mac: any usual
//        form, a Calling-Station-Id of its decision events or of its certificates' sessions;
//        serial: one of its certificates (any case, ':' allowed)
//   POST /devices {name, display_name?, owner?, groups?[]}                -> 201 D
//   GET  /devices/{device}                                                -> D + {"certificates":[C…]}
//   POST /devices/{device}/disable | /enable                              -> D
//   PUT  /devices/{device}/groups {groups:[…] (0..64, each 1..64 chars)}  -> D  replaces the groups
//        (duplicates dropped; audited "device.groups"; the next authentication's policy sees them)
//   POST /devices/{device}/revoke {reason?}                               -> {"device":D,"revoked":[C…]}
//   POST /revoke {devices:[{device}…] (1..10000), reason?}  many devices in one ledger transaction
//        (all or nothing; 404 names an unknown one)      -> {"devices":n,"revoked":[serial…]}
//   GET  /certificates?device=&status=valid|revoked|expired&expiring_before=&expiring_within=&limit=&offset=
//        (expiring_within: seconds from now; without a status it lists valid ones only)
//                                                                          -> {"certificates":[C…],"limit","offset"}
//   GET  /certificates/{serial}                                           -> C + {"pem"}
//   POST /certificates/{serial}/revoke {reason?}                          -> {"certificate":C,"changed":bool}
//   POST /certificates {csr, device, profile?="device", create_device?=false, cn?, sans?[]}
//        -> 201 {"certificate":PEM,"serial","device":D,"device_created":bool,"record":C,"left_out":[…]}
//        (the names are the device's / cn / sans through the profile's templates, never the CSR's)
//   GET  /audit?target=&action=&limit=1..1000(200)                        -> {"entries":[A…]} newest first
//   GET  /identity/{serial}  what the running in-memory index answers (the view RADIUS and
//        OCSP use): {serial,verdict,device_id,device_name,profile,not_after_unix,[revoked_at_unix,revocation_reason]}
//   GET  /sessions?live=true|false(true)&nas=&ssid=&device=&limit=1..1000(100)
//        -> {"sessions":[S…],"limit"} newest first; see api_sessions.cpp
//   POST /sessions/{id}/disconnect  an RFC 5176 Disconnect-Request for a live session
//        -> 202 {"session":S} (404 unknown, 409 not live); see api_sessions.cpp
//   GET  /overview  this node's health and the last 24 hours at a glance: api_overview.cpp
//   GET  /nas       NAS clients, transport, last seen and counters since start: api_nas.cpp
//   GET  /nodes, POST /nodes/{name}/forget  the nodes serving from this ledger: api_nodes.cpp
//   GET  /radius/counters  RADIUS drops and outcomes since start      -> {"counters":{name:n…}}
//   GET  /scep/counters    SCEP outcomes since start (by failInfo too) -> {"counters":{name:n…}}
//   GET  /service/counters handler exceptions survived, HTTP connections refused -> {"counters":{name:n…}}
//   GET  /policy, POST /policy/reload, POST /policy/test  access policy rules, counters, reload,
//        and what `portcullis policy test` answers: api_policy.cpp
//   GET  /events?device=&mac=&nas=&serial=&kind=&outcome=&since=&limit=&offset=  decision events, each with
//        "text" (the sentence `why` says for it): api_events.cpp
//   GET  /why/{device|mac|serial}  the latest outcomes in words: api_why.cpp
//   POST /challenges {device, profile?, cn?, sans?[], ttl_seconds?}  one-time SCEP challenge, see api_scep.cpp
//   POST /challenges/bulk {devices[] | expired_within_days, profile?, ttl_seconds?}  many at once, one
//        transaction: api_bulk_challenges.cpp
//   GET  /devices/{device}/profile/apple|android|windows?ssid=&wpa3=true|false&profile=
//        an MDM document with a fresh one-time challenge bound to the device (created when
//        missing), see api_mdm.cpp: Apple .mobileconfig (application/x-apple-aspen-config),
//        Android/Windows JSON; Cache-Control: no-store
//   GET  /requests?status=pending|approved|rejected|all(pending)&limit=1..1000(100)
//        SCEP requests held for manual approval -> {"requests":[R…]} newest first
//   POST /requests/{id}/approve  issues the held CSR      -> {"request":R,"certificate":PEM}
//   POST /requests/{id}/reject {reason?}                  -> {"request":R}
//        (404 unknown id, 409 already decided; the client's next CertPoll gets the outcome)
//   GET  /health (no auth)                            -> {"status":"ok"} or {"status":"degraded","reason":...}
//   GET  /metrics (outside /api/v1; the token, or an address in [metrics] allow)
//        -> Prometheus text format, see api_metrics.cpp
//
// Shapes: D = {id,name,display_name,owner,groups,enabled,created_at,created_at_unix};
// S = {id,nas,acct_session_id,calling_station_id,user_name,ssid,serial,device,started_at,updated_at,
//      stopped_at (null while live), nas_address, rule, dynauth, dynauth_at}; id is stable for the
//      session's life; ssid comes from Called-Station-Id "MAC:SSID" (RFC 3580 §3.20), "" when
//      none; serial and device are "" when accounting could not be tied to an Access-Accept; dynauth is the last RFC 5176
//      outcome ("Disconnect ACK", "Disconnect NAK 503 (Session-Context-Not-Found)", "CoA ACK",
//      "Disconnect timeout", "" = none sent), dynauth_at its time (null when none).
// C = {serial,device_id,device,profile,subject,sans,sha256_fingerprint,not_before,not_after,issued_at,
//      status,[revoked_at,revocation_reason]}; A = {id,at,actor,action,target,detail}.
// R = {id,status,device,profile,subject,transaction_id,serial,created_at,decided_by,decided_at,reason}
//      (serial, decided_by and decided_at are null until decided).
// Times: every instant is given twice, "<name>" as an ISO-8601 UTC string
// ("2025-01-01T00:00:00Z") for people and "<name>_unix" as integer seconds for scripts.
// Inputs (expiring_before) take either form, or a plain date (midnight UTC).
// Serials are uppercase hex; input may be any case with ':' separators.
// Revocation reasons: RFC 5280 §5.3.1 names ("keyCompromise") or codes.
//
// Errors: {"error": "<one line>"} with 400 malformed JSON / invalid field or parameter,
// 401 auth, 404 unknown route, device or serial, 405 wrong method (with Allow), 409
// duplicate name or disabled device, 415 non-JSON body, 422 CSR refused by the CA
// (ca::IssuanceRejected, its message), 500 anything else (logged, generic body).
// Every check runs before the first write, so a refused request leaves the ledger as it was.
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"
#include "ca/constant_time.hpp"
#include "ca/event.hpp"
#include "ca/text_codec.hpp"
#include "ca/x509.hpp"

#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <ctime>
#include <span>
#include <string_view>

namespace portcullis::app {

using admin::ApiError;
using admin::json;

struct AdminApi::Call {
  const HttpRequest& request;
  std::vector<std::string> segments;  // after "api", "v1", percent-decoded
  std::map<std::string, std::string> query;
  std::string actor;
  ca::UnixTime now = 0;
};

namespace {

constexpr std::size_t kMaxCsrBytes = 64 * 1024;

// C carries the device's name beside device_id.
std::string device_name(ca::DeviceStore& devices, std::int64_t id) {
  const auto device = devices.find_device(id);
  return device ? device->name : std::string();
}

// device_name for the rows of a page, each device looked up once however many of its
// certificates the page lists.
class DeviceNames {
 public:
  explicit DeviceNames(ca::DeviceStore& devices) : devices_(devices) {}
  const std::string& operator()(std::int64_t id) {
    auto it = names_.find(id);
    if (it == names_.end()) it = names_.emplace(id, device_name(devices_, id)).first;
    return it->second;
  }

 private:
  ca::DeviceStore& devices_;
  std::map<std::int64_t, std::string> names_;
};

HttpResponse method_not_allowed(const std::string& allow) {
  HttpResponse response = admin::error_response(405, "method not allowed");
  response.headers.emplace_back("Allow", allow);
  return response;
}

HttpResponse unauthorized() {
  HttpResponse response = admin::error_response(401, "missing or invalid bearer token");
  response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"portcullis\"");
  return response;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

}  // namespace

AdminApi::AdminApi(ca::Registry& registry, ca::Issuer& issuer, std::vector<AdminToken> tokens,
                   const radius::Counters* radius_counters, MdmSettings mdm)
    : registry_(registry), issuer_(issuer), radius_counters_(radius_counters), mdm_(std::move(mdm)) {
  for (const auto& token : tokens) {
    StoredToken stored;
    stored.name = token.name;
    ca::Bytes hash;
    try {
      hash = ca::from_hex(token.sha256_hex);
    } catch (const std::exception&) {
    }
    if (hash.size() != stored.hash.size())
      throw std::invalid_argument("admin token '" + token.name + "': the hash must be 64 hex digits (SHA-256)");
    std::copy(hash.begin(), hash.end(), stored.hash.begin());
    tokens_.push_back(std::move(stored));
  }
}

std::optional<std::string> AdminApi::authenticate(const HttpRequest& request) const {
  const std::string* header = request.header("authorization");
  // RFC 6750 §2.1: "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110 §11.1).
  if (header == nullptr || header->size() < 8 || !equals_ignore_case(header->substr(0, 6), "bearer") ||
      (*header)[6] != ' ')
    return std::nullopt;
  std::string_view token(*header);
  token.remove_prefix(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return actor_for_token(token);
}

std::optional<std::string> AdminApi::actor_for_token(std::string_view token) const {
  if (token.empty()) return std::nullopt;

  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  // Every stored hash is compared, each in constant time, so timing reveals neither the
  // token nor which entry matched.
  const StoredToken* match = nullptr;
  for (const auto& stored : tokens_) {
    const bool equal = ca::constant_time_equal(std::span<const std::uint8_t>(digest), stored.hash);
    if (equal && match == nullptr) match = &stored;
  }
  if (match == nullptr) return std::nullopt;
  return "api:" + match->name;
}

std::optional<std::string> AdminApi::authenticate_cookie(const HttpRequest& request, ca::UnixTime now) const {
  if (!cookie_auth_) return std::nullopt;
  auto auth = cookie_auth_(request, now);
  if (auth.refusal) throw ApiError(403, *auth.refusal);
  if (!auth.actor) return std::nullopt;
  for (const auto& stored : tokens_)
    if (*auth.actor == "api:" + stored.name) return auth.actor;
  return std::nullopt;
}

HttpResponse AdminApi::handle(const HttpRequest& request) {
  try {
    if (request.path == "/metrics") return serve_metrics(request);
    auto segments = ca::split_path(request.path);
    const bool api = segments && segments->size() >= 2 && (*segments)[0] == "api" && (*segments)[1] == "v1";
    if (api && segments->size() == 3 && (*segments)[2] == "health") {
      if (request.method != "GET") return method_not_allowed("GET");
      // 200 either way: RADIUS still decides while degraded, and a probe that took the node
      // out of rotation for a database every node shares would take out all of them.
      const std::string degraded = degraded_reason_ ? degraded_reason_() : "";
      if (!degraded.empty()) return admin::json_response(200, json{{"status", "degraded"}, {"reason", degraded}});
      return admin::json_response(200, json{{"status", "ok"}});
    }
    // Authentication comes before routing: without a token nothing about the API is told.
    auto actor = authenticate(request);
    if (!actor) actor = authenticate_cookie(request, ca::now_unix());
    if (!actor) {
      spdlog::warn("admin API: unauthenticated {} {} from {}", request.method, request.path, request.remote_address);
      return unauthorized();
    }
    if (!segments) throw ApiError(400, "malformed percent-encoding in the path");
    if (!api) throw ApiError(404, "no such route");
    auto query = ca::parse_query(request.query);
    if (!query) throw ApiError(400, "malformed percent-encoding in the query");
    Call call{request, {segments->begin() + 2, segments->end()}, std::move(*query), std::move(*actor),
              ca::now_unix()};
    return route(call);
  } catch (const ApiError& e) {
    return admin::error_response(e.status(), e.what());
  } catch (const ca::IssuanceRejected& e) {
    return admin::error_response(422, e.what());
  } catch (const ca::LedgerNotFound& e) {
    return admin::error_response(404, e.what());
  } catch (const ca::LedgerConflict& e) {
    return admin::error_response(409, e.what());
  } catch (const ca::LedgerFull& e) {
    // RFC 9110 §15.6.4: a temporary condition; the same request works once space is freed.
    spdlog::error("admin API: {} {} not done, the ledger's disk is full: {}", request.method, request.path, e.what());
    return admin::error_response(503, "the ledger's disk is full: nothing was changed; retry once space is freed");
  } catch (const ca::LedgerUnavailable& e) {
    // The database of a shared ledger is down: nothing was written, try again later.
    spdlog::error("admin API: {} {}: {}", request.method, request.path, e.what());
    return admin::error_response(503, "the ledger database is unavailable; nothing was changed, try again");
  } catch (const std::exception& e) {
    // LedgerError (disk, corruption), OpenSslError, bugs: the details go to the log only.
    spdlog::error("admin API: {} {} failed: {}", request.method, request.path, e.what());
    return admin::error_response(500, "internal error");
  }
}

// The routes listed at the top of this file: a path pattern ("*" is any one segment, the
// handler reads it from call.segments) and a method. A path that matches with another
// method gets 405 and every method it has in Allow (RFC 9110 §15.5.6).
struct AdminApi::Route {
  std::string_view path;
  const char* method;
  HttpResponse (*handler)(AdminApi& api, const Call& call);
};

std::span<const AdminApi::Route> AdminApi::routes() {
  using C = const Call&;
  static const Route table[] = {
      {"devices", "GET", [](AdminApi& a, C c) { return a.list_devices(c); }},
      {"devices", "POST", [](AdminApi& a, C c) { return a.create_device(c); }},
      {"devices/*", "GET", [](AdminApi& a, C c) { return a.show_device(c, c.segments[1]); }},
      {"devices/*/profile/*", "GET",
       [](AdminApi& a, C c) { return a.device_profile(c.query, c.actor, c.segments[1], c.segments[3]); }},
      {"devices/*/disable", "POST", [](AdminApi& a, C c) { return a.set_device_enabled(c, c.segments[1], false); }},
      {"devices/*/enable", "POST", [](AdminApi& a, C c) { return a.set_device_enabled(c, c.segments[1], true); }},
      {"devices/*/groups", "PUT", [](AdminApi& a, C c) { return a.set_device_groups(c, c.segments[1]); }},
      {"devices/*/revoke", "POST", [](AdminApi& a, C c) { return a.revoke_device(c, c.segments[1]); }},
      {"certificates", "GET", [](AdminApi& a, C c) { return a.list_certificates(c); }},
      {"certificates", "POST", [](AdminApi& a, C c) { return a.issue_certificate(c); }},
      {"certificates/*", "GET", [](AdminApi& a, C c) { return a.show_certificate(c, c.segments[1]); }},
      {"certificates/*/revoke", "POST", [](AdminApi& a, C c) { return a.revoke_certificate(c, c.segments[1]); }},
      {"revoke", "POST", [](AdminApi& a, C c) { return a.revoke_devices(c); }},
      {"audit", "GET", [](AdminApi& a, C c) { return a.list_audit(c); }},
      {"challenges", "POST", [](AdminApi& a, C c) { return a.create_challenge(c.request, c.query, c.actor); }},
      {"challenges/bulk", "POST", [](AdminApi& a, C c) { return a.create_challenges(c.request, c.query, c.actor); }},
      {"requests", "GET", [](AdminApi& a, C c) { return a.list_requests(c.query); }},
      {"requests/*/approve", "POST",
       [](AdminApi& a, C c) { return a.decide_request(c.request, c.query, c.actor, c.segments[1], true); }},
      {"requests/*/reject", "POST",
       [](AdminApi& a, C c) { return a.decide_request(c.request, c.query, c.actor, c.segments[1], false); }},
      {"identity/*", "GET", [](AdminApi& a, C c) { return a.show_identity(c, c.segments[1]); }},
      {"why/*", "GET", [](AdminApi& a, C c) { return a.why(c.query, c.segments[1], c.now); }},
      {"events", "GET", [](AdminApi& a, C c) { return a.list_events(c.query, c.now); }},
      {"sessions", "GET", [](AdminApi& a, C c) { return a.list_sessions(c.query); }},
      {"sessions/*/disconnect", "POST",
       [](AdminApi& a, C c) { return a.disconnect_session(c.request, c.actor, c.segments[1]); }},
      {"policy", "GET", [](AdminApi& a, C) { return a.show_policy(); }},
      {"policy/reload", "POST", [](AdminApi& a, C c) { return a.reload_policy(c.request, c.actor); }},
      {"policy/test", "POST", [](AdminApi& a, C c) { return a.test_policy(c.request); }},
      {"overview", "GET", [](AdminApi& a, C c) { return a.overview(c.query, c.now); }},
      {"nas", "GET", [](AdminApi& a, C c) { return a.list_nas(c.query); }},
      {"nodes", "GET", [](AdminApi& a, C c) { return a.list_nodes(c.query); }},
      {"nodes/*/forget", "POST", [](AdminApi& a, C c) { return a.forget_node(c.request, c.actor, c.segments[1]); }},
      {"radius/counters", "GET", [](AdminApi& a, C c) { return a.show_radius_counters(c); }},
      {"scep/counters", "GET", [](AdminApi& a, C c) { return a.show_scep_counters(c); }},
      {"service/counters", "GET", [](AdminApi& a, C c) { return a.show_service_counters(c); }},
  };
  return table;
}

namespace {

// `segments` is `pattern` split at '/', where "*" stands for any one segment.
bool path_matches(std::string_view pattern, const std::vector<std::string>& segments) {
  std::size_t i = 0;
  for (; !pattern.empty(); ++i) {
    const auto slash = pattern.find('/');
    const std::string_view part = pattern.substr(0, slash);
    if (i >= segments.size() || (part != "*" && part != segments[i])) return false;
    pattern = slash == std::string_view::npos ? std::string_view() : pattern.substr(slash + 1);
  }
  return i == segments.size();
}

}  // namespace

HttpResponse AdminApi::route(const Call& call) {
  std::string allow;
  for (const Route& r : routes()) {
    if (!path_matches(r.path, call.segments)) continue;
    if (call.request.method == r.method) return r.handler(*this, call);
    allow += (allow.empty() ? "" : ", ") + std::string(r.method);
  }
  if (!allow.empty()) return method_not_allowed(allow);
  throw ApiError(404, "no such route");
}

// A decimal string is an id (names cannot be all digits when made through this API). A
// device named with digits by another path (SCEP) is still found by name when no device
// has that id.
ca::Device AdminApi::resolve_device(const std::string& ref) {
  auto& ledger = registry_.ledger();
  if (admin::all_digits(ref) && ref.size() <= 18) {
    std::int64_t id = 0;
    std::from_chars(ref.data(), ref.data() + ref.size(), id);
    if (auto device = ledger.find_device(id)) return *device;
  }
  if (auto device = ledger.find_device_by_name(ref)) return *device;
  throw ApiError(404, "no device '" + admin::checked_text(ref, "device", 0, 255) + "'");
}

HttpResponse AdminApi::list_devices(const Call& call) {
  admin::check_query(call.query, {"search", "enabled", "group", "mac", "serial", "limit", "offset"});
  ca::DeviceFilter filter;
  if (const auto* search = admin::query_param(call.query, "search"))
    filter.search = admin::checked_text(*search, "search", 0, 128);
  if (const auto* group = admin::query_param(call.query, "group"); group && !group->empty())
    filter.group = admin::checked_text(*group, "group", 1, 64);
  if (const auto* mac = admin::query_param(call.query, "mac"); mac && !mac->empty()) {
    filter.mac = ca::normalize_mac(*mac);
    if (!filter.mac) throw ApiError(400, "parameter 'mac' must be a MAC address (e.g. 02:00:5e:10:00:01)");
  }
  if (const auto* serial = admin::query_param(call.query, "serial"); serial && !serial->empty())
    filter.serial = admin::checked_serial(*serial);
  if (const auto* enabled = admin::query_param(call.query, "enabled")) {
    if (*enabled == "true" || *enabled == "1") filter.enabled = true;
    else if (*enabled == "false" || *enabled == "0") filter.enabled = false;
    else throw ApiError(400, "enabled must be true or false");
  }
  filter.limit = admin::count_param(call.query, "limit", 100, 1, 1000);
  filter.offset = admin::count_param(call.query, "offset", 0, 0, 1'000'000'000);
  json devices = json::array();
  for (const auto& device : registry_.ledger().list_devices(filter)) devices.push_back(admin::device_json(device));
  const std::size_t total = registry_.ledger().count_devices(filter);
  return admin::json_response(
      200, json{{"devices", devices}, {"total", total}, {"limit", filter.limit}, {"offset", filter.offset}});
}

HttpResponse AdminApi::create_device(const Call& call) {
  json body = admin::parse_body(call.request, {"name", "display_name", "owner", "groups"}, false);
  ca::NewDevice device;
  auto name = admin::string_field(body, "name");
  if (!name) throw ApiError(400, "field 'name' is required");
  device.name = admin::checked_device_name(*name);
  device.display_name = admin::checked_text(admin::string_field(body, "display_name").value_or(""), "display_name", 0, 256);
  device.owner = admin::checked_text(admin::string_field(body, "owner").value_or(""), "owner", 0, 256);
  device.groups = admin::string_list_field(body, "groups", 64, 64);
  if (registry_.ledger().find_device_by_name(device.name))
    throw ApiError(409, "a device named '" + device.name + "' already exists");
  ca::Device created = registry_.create_device(device, call.actor);
  HttpResponse response = admin::json_response(201, admin::device_json(created));
  response.headers.emplace_back("Location", "/api/v1/devices/" + std::to_string(created.id));
  return response;
}

HttpResponse AdminApi::show_device(const Call& call, const std::string& ref) {
  admin::check_query(call.query, {});
  ca::Device device = resolve_device(ref);
  ca::CertificateFilter filter;
  filter.device_id = device.id;
  filter.now = call.now;
  json certificates = json::array();
  for (const auto& record : registry_.ledger().list_certificates(filter))
    certificates.push_back(admin::certificate_json(record, device.name, call.now, false));
  json out = admin::device_json(device);
  out["certificates"] = std::move(certificates);
  return admin::json_response(200, out);
}

HttpResponse AdminApi::set_device_enabled(const Call& call, const std::string& ref, bool enabled) {
  admin::parse_body(call.request, {}, true);
  ca::Device device = resolve_device(ref);
  return admin::json_response(200, admin::device_json(registry_.set_device_enabled(device.id, enabled, call.actor)));
}

HttpResponse AdminApi::set_device_groups(const Call& call, const std::string& ref) {
  json body = admin::parse_body(call.request, {"groups"}, false);
  const auto it = body.find("groups");
  if (it == body.end() || !it->is_array()) throw ApiError(400, "field 'groups' is required (an array of group names)");
  // The same limits as POST /devices.
  const std::vector<std::string> groups = admin::string_list_field(body, "groups", 64, 64);
  ca::Device device = resolve_device(ref);
  return admin::json_response(200, admin::device_json(registry_.set_device_groups(device.id, groups, call.actor)));
}

HttpResponse AdminApi::revoke_device(const Call& call, const std::string& ref) {
  json body = admin::parse_body(call.request, {"reason"}, true);
  ca::RevocationReason reason = admin::reason_field(body);
  ca::Device device = resolve_device(ref);
  json revoked = json::array();
  for (const auto& record : registry_.revoke_device(device.id, reason, call.now, call.actor))
    revoked.push_back(admin::certificate_json(record, device.name, call.now, false));
  return admin::json_response(200, json{{"device", admin::device_json(device)}, {"revoked", revoked}});
}

// Bulk revocation ("revoke 1,000 devices at once"): one ledger transaction, one
// index update, one notification, so the CRL is signed once and every live session's
// Disconnect-Request is queued at once, instead of 1,000 commits and CRL signatures.
HttpResponse AdminApi::revoke_devices(const Call& call) {
  json body = admin::parse_body(call.request, {"devices", "reason"}, false);
  ca::RevocationReason reason = admin::reason_field(body);
  const auto it = body.find("devices");
  if (it == body.end() || !it->is_array() || it->empty() || it->size() > 10000)
    throw ApiError(400, "devices must be an array of 1 to 10000 device ids or names");
  std::vector<std::int64_t> ids;
  ids.reserve(it->size());
  for (const json& ref : *it) {
    if (ref.is_number_integer()) ids.push_back(resolve_device(std::to_string(ref.get<std::int64_t>())).id);
    else if (ref.is_string()) ids.push_back(resolve_device(ref.get<std::string>()).id);
    else throw ApiError(400, "devices must be an array of 1 to 10000 device ids or names");
  }
  json revoked = json::array();
  for (const auto& record : registry_.revoke_devices(ids, reason, call.now, call.actor)) revoked.push_back(record.serial_hex);
  return admin::json_response(200, json{{"devices", ids.size()}, {"revoked", revoked}});
}

HttpResponse AdminApi::list_certificates(const Call& call) {
  admin::check_query(call.query, {"device", "status", "expiring_before", "expiring_within", "limit", "offset"});
  ca::CertificateFilter filter;
  filter.now = call.now;
  if (const auto* device = admin::query_param(call.query, "device")) filter.device_id = resolve_device(*device).id;
  if (const auto* status = admin::query_param(call.query, "status")) {
    if (*status != "valid" && *status != "revoked" && *status != "expired")
      throw ApiError(400, "status must be valid, revoked or expired");
    filter.status = *status;
  }
  if (const auto* before = admin::query_param(call.query, "expiring_before")) {
    filter.expiring_before = admin::parse_time(*before);
    if (!filter.expiring_before)
      throw ApiError(400, "expiring_before must be unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
  }
  if (admin::query_param(call.query, "expiring_within")) {
    if (filter.expiring_before) throw ApiError(400, "give expiring_before or expiring_within, not both");
    // What is about to expire is what is still valid: revoked and expired ones are not.
    const auto within = admin::count_param(call.query, "expiring_within", 0, 1, 100LL * 366 * 86400);
    filter.expiring_before = call.now + static_cast<ca::UnixTime>(within);
    if (!filter.status) filter.status = "valid";
  }
  filter.limit = admin::count_param(call.query, "limit", 100, 1, 1000);
  filter.offset = admin::count_param(call.query, "offset", 0, 0, 1'000'000'000);
  json certificates = json::array();
  DeviceNames names(registry_.ledger());
  for (const auto& record : registry_.ledger().list_certificates(filter))
    certificates.push_back(admin::certificate_json(record, names(record.device_id), call.now, false));
  return admin::json_response(200,
                              json{{"certificates", certificates}, {"limit", filter.limit}, {"offset", filter.offset}});
}

HttpResponse AdminApi::show_certificate(const Call& call, const std::string& serial) {
  admin::check_query(call.query, {});
  const std::string hex = admin::checked_serial(serial);
  auto record = registry_.ledger().find_certificate(hex);
  if (!record) throw ApiError(404, "no certificate with serial " + hex);
  return admin::json_response(
      200, admin::certificate_json(*record, device_name(registry_.ledger(), record->device_id), call.now, true));
}

HttpResponse AdminApi::show_identity(const Call& call, const std::string& serial) {
  admin::check_query(call.query, {});
  const std::string hex = admin::checked_serial(serial);
  const ca::Identity identity = registry_.index().by_serial_hex(hex, call.now);
  json body = {{"serial", hex}, {"verdict", ca::to_string(identity.verdict)}};
  if (identity.verdict != ca::IdentityVerdict::unknown) {
    body["device_id"] = identity.device_id;
    body["device_name"] = identity.device_name;
    body["profile"] = identity.profile;
    body["not_after_unix"] = identity.not_after;
  }
  if (identity.verdict == ca::IdentityVerdict::revoked) {
    body["revoked_at_unix"] = identity.revoked_at;
    body["revocation_reason"] = ca::to_string(identity.revocation_reason);
  }
  return admin::json_response(200, body);
}

HttpResponse AdminApi::show_radius_counters(const Call& call) {
  admin::check_query(call.query, {});
  json counters = json::object();
  if (radius_counters_ != nullptr)
    for (const auto& [name, value] : radius_counters_->snapshot()) counters[std::string(name)] = value;
  return admin::json_response(200, json{{"counters", counters}});
}

// SCEP outcomes since start: issued, renewed, pending, rejected in total and by
// failInfo, malformed (no CertRep possible), GetCert/GetCRL answers. Empty with SCEP off.
HttpResponse AdminApi::show_scep_counters(const Call& call) {
  admin::check_query(call.query, {});
  json counters = json::object();
  if (scep_ != nullptr)
    for (const auto& [name, value] : scep_->counters().named()) counters[name] = value;
  return admin::json_response(200, json{{"counters", counters}});
}

HttpResponse AdminApi::show_service_counters(const Call& call) {
  admin::check_query(call.query, {});
  json counters = json::object();
  if (service_counters_)
    for (const auto& [name, value] : service_counters_()) counters[name] = value;
  return admin::json_response(200, json{{"counters", counters}});
}

HttpResponse AdminApi::revoke_certificate(const Call& call, const std::string& serial) {
  json body = admin::parse_body(call.request, {"reason"}, true);
  ca::RevocationReason reason = admin::reason_field(body);
  const std::string hex = admin::checked_serial(serial);
  if (!registry_.ledger().find_certificate(hex)) throw ApiError(404, "no certificate with serial " + hex);
  ca::RevocationOutcome outcome = registry_.revoke(hex, reason, call.now, call.actor);
  return admin::json_response(
      200, json{{"certificate", admin::certificate_json(outcome.certificate,
                                                        device_name(registry_.ledger(), outcome.certificate.device_id),
                                                        call.now, false)},
                {"changed", outcome.changed}});
}

HttpResponse AdminApi::issue_certificate(const Call& call) {
  json body = admin::parse_body(call.request, {"csr", "device", "profile", "create_device", "cn", "sans"}, false);
  auto csr = admin::string_field(body, "csr");
  if (!csr || csr->empty()) throw ApiError(400, "field 'csr' is required (a PEM PKCS#10 request)");
  if (csr->size() > kMaxCsrBytes) throw ApiError(400, "field 'csr' is too large");
  const std::string profile = admin::string_field(body, "profile").value_or("device");
  if (issuer_.profiles().count(profile) == 0)
    throw ApiError(400, "unknown profile '" + admin::checked_text(profile, "profile", 0, 64) + "'");
  const bool create = admin::bool_field(body, "create_device").value_or(false);

  // The device is settled before anything is signed: an unknown or disabled device must
  // not cost a signature, and must leave no trace.
  auto device_field = body.find("device");
  if (device_field == body.end() || device_field->is_null()) throw ApiError(400, "field 'device' is required");
  std::string ref;
  if (device_field->is_number_integer()) ref = std::to_string(device_field->get<std::int64_t>());
  else if (device_field->is_string()) ref = device_field->get<std::string>();
  else throw ApiError(400, "field 'device' must be a device name or id");

  ca::IssueRequest request;
  request.csr = *csr;
  request.profile = profile;
  request.actor = call.actor;
  std::string device_name;
  try {
    ca::Device device = resolve_device(ref);
    if (!device.enabled) throw ApiError(409, "device '" + device.name + "' is disabled");
    request.device.id = device.id;
    device_name = device.name;
  } catch (const ApiError& e) {
    if (e.status() != 404 || !create || device_field->is_number_integer()) throw;
    request.device.name = device_name = admin::checked_device_name(ref);
    request.device.create_if_missing = true;
  }
  // The names are the operator's (the device, the profile's templates, "cn" and "sans"
  // here), never the CSR's: the issuer refuses a SAN type the profile does not allow.
  const std::optional<std::string> cn = admin::string_field(body, "cn");
  request.names = issuer_.names_for(profile, device_name, cn ? admin::checked_text(*cn, "cn", 1, 64) : device_name,
                                    admin::string_list_field(body, "sans", 16, 256));
  // A CSR that does not even parse is the client's syntax error (400); one that parses
  // but that the CA refuses (CA:true, weak key, bad signature) is 422 from the issuer.
  try {
    ca::csr_from_pem_or_der(*csr);
  } catch (const std::exception&) {
    throw ApiError(400, "field 'csr' is not a PEM or DER PKCS#10 certificate request");
  }

  ca::IssueResult result = issuer_.issue(request);
  json out{{"certificate", ca::cert_to_pem(result.certificate.get())},
           {"serial", result.record.serial_hex},
           {"device", admin::device_json(result.device)},
           {"device_created", result.device_created},
           {"left_out", result.left_out},
           {"record", admin::certificate_json(result.record, result.device.name, call.now, false)}};
  HttpResponse response = admin::json_response(201, out);
  response.headers.emplace_back("Location", "/api/v1/certificates/" + result.record.serial_hex);
  return response;
}

HttpResponse AdminApi::list_audit(const Call& call) {
  admin::check_query(call.query, {"target", "action", "limit"});
  ca::AuditFilter filter;
  if (const auto* target = admin::query_param(call.query, "target")) filter.target = *target;
  if (const auto* action = admin::query_param(call.query, "action")) filter.action = *action;
  filter.limit = admin::count_param(call.query, "limit", 200, 1, 1000);
  json entries = json::array();
  for (const auto& entry : registry_.ledger().audit(filter)) entries.push_back(admin::audit_json(entry));
  return admin::json_response(200, json{{"entries", entries}});
}

}  // namespace portcullis::app
