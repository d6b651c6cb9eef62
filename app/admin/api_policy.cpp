// Admin API: the access policy.
//   GET  /api/v1/policy         -> {"origin","rules":[{"name","line","summary","matches"}…],"default_matches"}
//                                  rules in evaluation order (first match decides); origin "" = no file
//   POST /api/v1/policy/reload  -> 200 {"rules":n,"origin"} after re-reading the configured file,
//                                  422 {"error":"policy.toml:12: rule 'x': …"} when it is refused
//                                  (the running rules stay), audited either way.
//   POST /api/v1/policy/test {device?, groups?[], nas?, ssid?, at?, attributes?{name:value}}
//                               -> 200 what `portcullis policy test --json` prints (app/policy_test.hpp):
//                                  which rule of the configured file decides, and the reply.
//                                  device: id or name (its groups and newest valid certificate);
//                                  groups: instead of the device's (alone: a device holding a
//                                  valid certificate); at: unix seconds or ISO-8601 (default
//                                  now); attributes: Called-Station-Id, Calling-Station-Id,
//                                  NAS-Port-Type (name or number). 404 unknown device or NAS,
//                                  422 the policy file is refused. Reads only: no counter moves.
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"
#include "app/admin/policy_test.hpp"

#include <ctime>

namespace portcullis::app {

using admin::ApiError;
using admin::json;

void AdminApi::set_policy(PolicyControl policy) { policy_ = std::move(policy); }

HttpResponse AdminApi::show_policy() {
  if (policy_.engine == nullptr) throw ApiError(404, "no policy engine");
  json rules = json::array();
  for (const auto& r : policy_.engine->stats())
    rules.push_back(json{{"name", r.name}, {"line", r.line}, {"summary", r.summary}, {"matches", r.matches}});
  return admin::json_response(200, json{{"origin", policy_.engine->origin()},
                                        {"file", policy_.file},
                                        {"rules", std::move(rules)},
                                        {"default_matches", policy_.engine->default_matches()}});
}

HttpResponse AdminApi::reload_policy(const HttpRequest& request, const std::string& actor) {
  if (policy_.engine == nullptr) throw ApiError(404, "no policy engine");
  admin::parse_body(request, {}, true);  // no fields; refuse any
  ca::AuditEntry entry;
  entry.at = ca::now_unix();
  entry.actor = actor;
  entry.action = "policy.reload";
  entry.target = policy_.file.empty() ? "(none)" : policy_.file;
  try {
    const std::size_t n = app::reload_policy(*policy_.engine, policy_.file, actor);
    entry.detail = std::to_string(n) + " rule(s) loaded";
    registry_.ledger().append_audit(entry);
    return admin::json_response(200, json{{"rules", n}, {"origin", policy_.engine->origin()}});
  } catch (const policy::PolicyError& e) {
    entry.detail = std::string("refused: ") + e.what();
    registry_.ledger().append_audit(entry);
    return admin::error_response(422, e.what());
  }
}

namespace {

// The request attributes a policy rule can look at, from the test's "attributes" object.
void read_attributes(const json& body, PolicyTestInput& in) {
  const auto it = body.find("attributes");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object()) throw ApiError(400, "field 'attributes' must be an object of attribute names and values");
  for (const auto& [name, value] : it->items()) {
    const std::string shown = admin::checked_text(name, "attribute name", 1, 64);
    std::string text;
    if (value.is_string()) text = admin::checked_text(value.get<std::string>(), "attribute value", 0, 253);
    else if (value.is_number_unsigned() && name == "NAS-Port-Type") text = std::to_string(value.get<std::uint32_t>());
    else throw ApiError(400, "attribute '" + shown + "' must be a string");
    if (name == "Called-Station-Id") in.called_station_id = text;
    else if (name == "Calling-Station-Id") in.calling_station_id = text;
    else if (name == "NAS-Port-Type") {
      try {
        in.nas_port_type = parse_nas_port_type(text);
      } catch (const std::exception&) {
        throw ApiError(400, "NAS-Port-Type must be a number or a name such as Wireless-802.11");
      }
    } else {
      throw ApiError(400, "attribute '" + shown + "' is not one a policy rule reads (Called-Station-Id, "
                          "Calling-Station-Id, NAS-Port-Type)");
    }
  }
}

}  // namespace

HttpResponse AdminApi::test_policy(const HttpRequest& request) {
  if (policy_.engine == nullptr) throw ApiError(404, "no policy engine");
  const json body = admin::parse_body(request, {"device", "groups", "nas", "ssid", "at", "attributes"}, true);
  PolicyTestInput in;
  if (const auto device = body.find("device"); device != body.end() && !device->is_null()) {
    if (device->is_number_integer()) in.device = std::to_string(device->get<std::int64_t>());
    else if (device->is_string()) in.device = admin::checked_text(device->get<std::string>(), "device", 1, 255);
    else throw ApiError(400, "field 'device' must be a device name or id");
  }
  if (body.contains("groups") && !body["groups"].is_null()) in.groups = admin::string_list_field(body, "groups", 64, 64);
  in.nas = admin::checked_text(admin::string_field(body, "nas").value_or(""), "nas", 0, 255);
  in.ssid = admin::checked_text(admin::string_field(body, "ssid").value_or(""), "ssid", 0, 32);
  in.at = ca::now_unix();
  if (const auto at = admin::string_field(body, "at")) {
    const auto parsed = admin::parse_time(*at);
    if (!parsed) throw ApiError(400, "field 'at' must be unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    in.at = *parsed;
  }
  read_attributes(body, in);
  PolicyTestSources sources;
  sources.ledger = &registry_.ledger();
  sources.ledger_location = "the ledger";
  sources.nas_groups = policy_.nas_groups;
  sources.policy_file = policy_.file;
  sources.config_path = "the configuration";
  try {
    return admin::json_response(200, policy_test(in, sources));
  } catch (const PolicyTestNotFound& e) {
    throw ApiError(404, e.what());
  } catch (const policy::PolicyError& e) {
    return admin::error_response(422, e.what());
  }
}

}  // namespace portcullis::app
