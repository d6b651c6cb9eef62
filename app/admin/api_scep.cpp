// Admin API: one-time SCEP challenges (RFC 8894 §2.3), issue 3.
//   POST /api/v1/challenges {device, profile?="device", cn?, ttl_seconds?=3600}
//        -> 201 {"challenge","device","profile","cn"?,"expires_at","expires_at_unix"}
// The device is a name (created when missing: an MDM mints before the device exists) or
// an existing device's id. The secret is in this response only: the ledger keeps its
// SHA-256, and nothing logs it.
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"
#include "scep/approval.hpp"
#include "scep/enrollment.hpp"

namespace portcullis::app {

using admin::ApiError;
using admin::json;

namespace {
constexpr std::int64_t kDefaultTtl = 3600;          // Intune's dynamic challenges live 60 minutes
constexpr std::int64_t kMaxTtl = 30 * 86400;

// R in api.cpp's list of shapes.
json request_json(const ca::ScepRequestRecord& r) {
  json out{{"id", r.id},
           {"status", r.status},
           {"device", r.device_name},
           {"profile", r.profile},
           {"subject", r.subject},
           {"transaction_id", r.transaction.transaction_id},
           {"serial", r.serial ? json(*r.serial) : json(nullptr)},
           {"created_at", admin::iso8601(r.created_at)},
           {"created_at_unix", r.created_at},
           {"decided_by", r.decided_by ? json(*r.decided_by) : json(nullptr)},
           {"decided_at", r.decided_at ? json(admin::iso8601(*r.decided_at)) : json(nullptr)},
           {"decided_at_unix", r.decided_at ? json(*r.decided_at) : json(nullptr)},
           {"reason", r.reason}};
  return out;
}
}  // namespace

HttpResponse AdminApi::create_challenge(const HttpRequest& request, const std::map<std::string, std::string>& query,
                                        const std::string& actor) {
  admin::check_query(query, {});
  json body = admin::parse_body(request, {"device", "profile", "cn", "sans", "ttl_seconds"}, false);
  const auto device = admin::string_field(body, "device");
  if (!device) throw ApiError(400, "field 'device' is required");
  const std::string name = admin::all_digits(*device) ? resolve_device(*device).name : admin::checked_device_name(*device);
  const std::string profile = admin::string_field(body, "profile").value_or("device");
  if (issuer_.profiles().count(profile) == 0) throw ApiError(400, "unknown profile '" + profile + "'");
  std::optional<std::string> cn = admin::string_field(body, "cn");
  if (cn) cn = admin::checked_text(*cn, "cn", 1, 64);
  const std::vector<std::string> sans = admin::string_list_field(body, "sans", 16, 256);
  std::int64_t ttl = kDefaultTtl;
  if (auto it = body.find("ttl_seconds"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer()) throw ApiError(400, "field 'ttl_seconds' must be an integer");
    ttl = it->get<std::int64_t>();
    if (ttl <= 0 || ttl > kMaxTtl) throw ApiError(400, "field 'ttl_seconds' must be 1.." + std::to_string(kMaxTtl));
  }
  // A disabled device's enrollment would be refused; say so now instead.
  if (auto existing = registry_.ledger().find_device_by_name(name); existing && !existing->enabled)
    throw ApiError(409, "device '" + name + "' is disabled");

  scep::MintedChallenge minted;
  try {
    minted = scep::mint_challenge(registry_, name, issuer_.profiles().at(profile), cn, sans, ttl, actor);
  } catch (const std::invalid_argument& e) {
    throw ApiError(400, e.what());
  }
  json out{{"challenge", minted.secret},
           {"device", minted.record.device_name},
           {"profile", minted.record.profile},
           {"expires_at", admin::iso8601(minted.record.expires_at)},
           {"expires_at_unix", minted.record.expires_at}};
  if (cn) out["cn"] = *cn;
  if (!sans.empty()) out["sans"] = sans;
  HttpResponse response = admin::json_response(201, out);
  response.headers.emplace_back("Cache-Control", "no-store");   // a secret: never cached
  return response;
}

}  // namespace portcullis::app

namespace portcullis::app {

// Admin API: SCEP requests held for manual approval (RFC 8894 §3.3.2 PENDING).
//   GET  /api/v1/requests?status=pending|approved|rejected|all(pending)&limit=
//   POST /api/v1/requests/{id}/approve          -> {"request":R,"certificate":PEM}
//   POST /api/v1/requests/{id}/reject {reason?} -> {"request":R}
// Audit rows: "scep.approve" / "scep.reject" with actor "api:<token name>", written by the
// ledger in the same transaction as the decision.
HttpResponse AdminApi::list_requests(const std::map<std::string, std::string>& query) {
  admin::check_query(query, {"status", "limit"});
  std::string status = "pending";
  if (const std::string* given = admin::query_param(query, "status"); given && !given->empty()) status = *given;
  if (status != "pending" && status != "approved" && status != "rejected" && status != "all")
    throw ApiError(400, "parameter 'status' must be pending, approved, rejected or all");
  const std::size_t limit = admin::count_param(query, "limit", 100, 1, 1000);
  json list = json::array();
  for (const auto& r : registry_.ledger().list_scep_requests(status == "all" ? std::string() : status, limit))
    list.push_back(request_json(r));
  return admin::json_response(200, json{{"requests", std::move(list)}});
}

HttpResponse AdminApi::decide_request(const HttpRequest& request, const std::map<std::string, std::string>& query,
                                      const std::string& actor, const std::string& id, bool approve) {
  admin::check_query(query, {});
  if (!admin::all_digits(id) || id.empty() || id.size() > 18) throw ApiError(400, "request id must be a number");
  const std::int64_t request_id = std::stoll(id);
  if (approve) {
    admin::parse_body(request, {}, true);
    const scep::Approval approval = scep::approve_request(issuer_, registry_.ledger(), request_id, actor);
    return admin::json_response(200, json{{"request", request_json(approval.request)},
                                          {"certificate", ca::cert_to_pem(approval.issued.certificate.get())}});
  }
  json body = admin::parse_body(request, {"reason"}, true);
  std::string reason;
  if (auto given = admin::string_field(body, "reason")) reason = admin::checked_text(*given, "reason", 0, 200);
  const ca::ScepRequestRecord rejected = scep::reject_request(registry_.ledger(), request_id, reason, actor);
  return admin::json_response(200, json{{"request", request_json(rejected)}});
}

}  // namespace portcullis::app
