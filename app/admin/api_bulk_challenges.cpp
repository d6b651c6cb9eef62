// Admin API: one-time SCEP challenges for many devices at once (re-enrolling a fleet whose
// certificates expired: an expired certificate cannot renew).
//   POST /api/v1/challenges/bulk {"devices":[name|id…]} | {"expired_within_days":n},
//        "profile"?, "ttl_seconds"?=3600
//     devices: existing devices, a challenge each for `profile` (default "device").
//     expired_within_days: enabled devices whose certificate (of `profile`, when given)
//        expired in the last n days and that hold no valid one of that profile; a challenge
//        each for that profile.
//   -> 201 {"challenges":[{"device","profile","challenge","expires_at","expires_at_unix",
//          "expired_serial"?}…], "count"}   (200 and [] when no device matches)
// At most scep::kMaxBulkChallenges devices per call (400 beyond, nothing minted). All
// challenges are minted in one ledger transaction with an audit row each ("challenge.mint");
// the secrets are in this response only (Cache-Control: no-store) and never logged.
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"
#include "scep/reenrollment.hpp"

#include <spdlog/spdlog.h>

namespace portcullis::app {

using admin::ApiError;
using admin::json;

namespace {
constexpr std::int64_t kDefaultTtl = 3600;   // as POST /challenges
constexpr std::int64_t kMaxWindowDays = 3660;
const std::string kLimitText = std::to_string(scep::kMaxBulkChallenges);

std::int64_t integer_field(const json& body, const char* name, std::int64_t fallback, std::int64_t min,
                           std::int64_t max) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<std::int64_t>() < min || it->get<std::int64_t>() > max)
    throw ApiError(400, std::string("field '") + name + "' must be an integer " + std::to_string(min) + ".." +
                            std::to_string(max));
  return it->get<std::int64_t>();
}
}  // namespace

HttpResponse AdminApi::create_challenges(const HttpRequest& request, const std::map<std::string, std::string>& query,
                                         const std::string& actor) {
  admin::check_query(query, {});
  json body = admin::parse_body(request, {"devices", "expired_within_days", "profile", "ttl_seconds"}, false);
  const bool by_name = body.contains("devices"), by_expiry = body.contains("expired_within_days");
  if (by_name == by_expiry) throw ApiError(400, "give either 'devices' or 'expired_within_days'");
  const std::optional<std::string> profile = admin::string_field(body, "profile");
  if (profile && issuer_.profiles().count(*profile) == 0) throw ApiError(400, "unknown profile '" + *profile + "'");
  const std::int64_t ttl = integer_field(body, "ttl_seconds", kDefaultTtl, 1, scep::kMaxChallengeTtl);

  std::vector<scep::ChallengeFor> targets;
  std::map<std::string, std::string> expired_serial;   // device -> the certificate that expired last
  if (by_name) {
    const auto& list = body.at("devices");
    if (!list.is_array() || list.empty() || list.size() > scep::kMaxBulkChallenges)
      throw ApiError(400, "devices must be an array of 1 to " + kLimitText + " device ids or names");
    const ca::Profile& chosen = issuer_.profiles().at(profile.value_or("device"));
    for (const json& ref : list) {
      if (ref.is_number_integer()) targets.push_back({resolve_device(std::to_string(ref.get<std::int64_t>())).name, &chosen});
      else if (ref.is_string()) targets.push_back({resolve_device(ref.get<std::string>()).name, &chosen});
      else throw ApiError(400, "devices must be an array of 1 to " + kLimitText + " device ids or names");
    }
  } else {
    const auto days = integer_field(body, "expired_within_days", 0, 1, kMaxWindowDays);
    if (days == 0) throw ApiError(400, "field 'expired_within_days' must be an integer 1.." + std::to_string(kMaxWindowDays));
    std::vector<scep::ExpiredEnrollment> found;
    try {
      found = scep::expired_enrollments(registry_.ledger(), static_cast<int>(days), profile.value_or(""),
                                        ca::now_unix());
    } catch (const std::length_error& e) {
      throw ApiError(400, std::string(e.what()) + ": use a shorter expired_within_days or name the devices");
    }
    for (const auto& e : found) {
      const auto known = issuer_.profiles().find(e.profile);
      if (known == issuer_.profiles().end()) continue;   // a profile since removed from the configuration
      targets.push_back({e.device, &known->second});
      expired_serial[e.device + '\n' + e.profile] = e.serial;
    }
    if (targets.empty()) return admin::json_response(200, json{{"challenges", json::array()}, {"count", 0}});
  }

  std::vector<scep::MintedChallenge> minted;
  try {
    minted = scep::mint_challenges(registry_, targets, ttl, actor);
  } catch (const std::invalid_argument& e) {
    throw ApiError(400, e.what());
  }
  json list = json::array();
  for (const auto& m : minted) {
    json entry{{"device", m.record.device_name},
               {"profile", m.record.profile},
               {"challenge", m.secret},
               {"expires_at", admin::iso8601(m.record.expires_at)},
               {"expires_at_unix", m.record.expires_at}};
    if (auto it = expired_serial.find(m.record.device_name + '\n' + m.record.profile); it != expired_serial.end())
      entry["expired_serial"] = it->second;
    list.push_back(std::move(entry));
  }
  spdlog::info("admin API: {} minted {} one-time challenges at once", actor, minted.size());
  HttpResponse response = admin::json_response(201, json{{"challenges", std::move(list)}, {"count", minted.size()}});
  response.headers.emplace_back("Cache-Control", "no-store");   // secrets: never cached
  return response;
}

}  // namespace portcullis::app
