// Admin API: per-device MDM profiles, so that an MDM fetches a ready-to-push
// document with a fresh one-time challenge in one call.
//   GET /api/v1/devices/{device}/profile/apple|android|windows?ssid=&wpa3=true|false&profile=device
//     apple   -> 200 .mobileconfig, Content-Type application/x-apple-aspen-config
//     android -> 200 {"device","scep":{...},"onc":{...}}
//     windows -> 200 {"device","csp","node","values":{...}}
//   ssid is required for apple and android. The device is a name (created when missing, as
//   for POST /challenges) or an existing id; the challenge is bound to it (the CSR's CN must
//   be the device name), lives one hour, and appears in this response only, which is why
//   it is sent with Cache-Control: no-store and never logged.
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"
#include "scep/enrollment.hpp"
#include "scep/mdm_profiles.hpp"

namespace portcullis::app {

using admin::ApiError;

namespace {
constexpr std::int64_t kProfileChallengeTtl = 3600;   // as POST /challenges: Intune's 60 minutes

bool bool_param(const std::map<std::string, std::string>& query, const char* name) {
  const std::string* value = admin::query_param(query, name);
  if (value == nullptr || value->empty() || *value == "false") return false;
  if (*value == "true") return true;
  throw ApiError(400, std::string("parameter '") + name + "' must be true or false");
}
}  // namespace

HttpResponse AdminApi::device_profile(const std::map<std::string, std::string>& query, const std::string& actor,
                                      const std::string& device_ref, const std::string& platform) {
  if (platform != "apple" && platform != "android" && platform != "windows")
    throw ApiError(404, "no such profile type '" + platform + "' (apple, android, windows)");
  if (mdm_.authority == nullptr) throw ApiError(404, "SCEP is disabled: no MDM profiles");
  admin::check_query(query, {"ssid", "wpa3", "profile"});
  const bool wifi = platform != "windows";
  std::string ssid;
  if (const std::string* given = admin::query_param(query, "ssid"); given && !given->empty()) {
    // IEEE 802.11 §9.4.2.2: an SSID is 1..32 octets; no control characters (XML, ONC).
    ssid = admin::checked_text(*given, "ssid", 1, 32);
    if (ssid.size() > 32) throw ApiError(400, "parameter 'ssid' must be at most 32 bytes");
  }
  if (wifi && ssid.empty()) throw ApiError(400, "parameter 'ssid' is required for " + platform);
  const bool wpa3 = bool_param(query, "wpa3");
  std::string profile = "device";
  if (const std::string* given = admin::query_param(query, "profile"); given && !given->empty()) profile = *given;
  const auto found = issuer_.profiles().find(profile);
  if (found == issuer_.profiles().end()) throw ApiError(400, "unknown profile '" + profile + "'");

  const std::string name =
      admin::all_digits(device_ref) ? resolve_device(device_ref).name : admin::checked_device_name(device_ref);
  if (auto existing = registry_.ledger().find_device_by_name(name); existing && !existing->enabled)
    throw ApiError(409, "device '" + name + "' is disabled");

  scep::MdmProfileInputs in;
  in.device = name;
  in.scep_url = mdm_.public_url + "/scep";
  in.ca_name = mdm_.hostname;
  in.eap_server_name = mdm_.hostname;
  in.ssid = ssid;
  in.wpa3 = wpa3;
  in.root_der = ca::cert_to_der(mdm_.authority->root());
  in.validity_days = found->second.validity_days;
  in.renew_before_days = found->second.renew_before_days;
  // Minted last: every check above has passed, so a refused call leaves no challenge behind.
  in.challenge = scep::mint_challenge(registry_, name, found->second, name, {}, kProfileChallengeTtl, actor).secret;

  HttpResponse response;
  response.status = 200;
  if (platform == "apple") {
    response.body = scep::apple_mobileconfig(in);
    // Apple "Configuration Profile Reference": the MIME type Safari and MDMs install from.
    response.content_type = "application/x-apple-aspen-config";
    response.headers.emplace_back("Content-Disposition", "attachment; filename=\"portcullis.mobileconfig\"");
  } else {
    response.body = platform == "android" ? scep::android_profile_json(in) : scep::windows_profile_json(in);
    response.content_type = "application/json";
  }
  response.headers.emplace_back("Cache-Control", "no-store");   // carries a secret
  return response;
}

}  // namespace portcullis::app
