// Admin API: one-time SCEP challenges (RFC 8894 §2.3), issue 3.
//   POST /api/v1/challenges {device, profile?="device", cn?, ttl_seconds?=3600}
//        -> 201 {"challenge","device","profile","cn"?,"expires_at","expires_at_unix"}
// The device is a name (created when missing: an MDM mints before the device exists) or
// an existing device's id. The secret is in this response only: the ledger keeps its
// SHA-256, and nothing logs it.
#include "app/admin_api.hpp"

#include "app/admin_json.hpp"
#include "scep/enrollment.hpp"

namespace portcullis::app {

using admin::ApiError;
using admin::json;

namespace {
constexpr std::int64_t kDefaultTtl = 3600;          // Intune's dynamic challenges live 60 minutes
constexpr std::int64_t kMaxTtl = 30 * 86400;
}  // namespace

HttpResponse AdminApi::create_challenge(const HttpRequest& request, const std::map<std::string, std::string>& query,
                                        const std::string& actor) {
  admin::check_query(query, {});
  json body = admin::parse_body(request, {"device", "profile", "cn", "ttl_seconds"}, false);
  const auto device = admin::string_field(body, "device");
  if (!device) throw ApiError(400, "field 'device' is required");
  const std::string name = admin::all_digits(*device) ? resolve_device(*device).name : admin::checked_device_name(*device);
  const std::string profile = admin::string_field(body, "profile").value_or("device");
  if (issuer_.profiles().count(profile) == 0) throw ApiError(400, "unknown profile '" + profile + "'");
  std::optional<std::string> cn = admin::string_field(body, "cn");
  if (cn) cn = admin::checked_text(*cn, "cn", 1, 64);
  std::int64_t ttl = kDefaultTtl;
  if (auto it = body.find("ttl_seconds"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer()) throw ApiError(400, "field 'ttl_seconds' must be an integer");
    ttl = it->get<std::int64_t>();
    if (ttl <= 0 || ttl > kMaxTtl) throw ApiError(400, "field 'ttl_seconds' must be 1.." + std::to_string(kMaxTtl));
  }
  // A disabled device's enrollment would be refused; say so now instead.
  if (auto existing = registry_.ledger().find_device_by_name(name); existing && !existing->enabled)
    throw ApiError(409, "device '" + name + "' is disabled");

  const scep::MintedChallenge minted = scep::mint_challenge(registry_, name, profile, cn, ttl, actor);
  json out{{"challenge", minted.secret},
           {"device", minted.record.device_name},
           {"profile", minted.record.profile},
           {"expires_at", admin::iso8601(minted.record.expires_at)},
           {"expires_at_unix", minted.record.expires_at}};
  if (cn) out["cn"] = *cn;
  HttpResponse response = admin::json_response(201, out);
  response.headers.emplace_back("Cache-Control", "no-store");   // a secret: never cached
  return response;
}

}  // namespace portcullis::app
