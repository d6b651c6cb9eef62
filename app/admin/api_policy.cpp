// Admin API: the access policy.
//   GET  /api/v1/policy         -> {"origin","rules":[{"name","line","summary","matches"}…],"default_matches"}
//                                  rules in evaluation order (first match decides); origin "" = no file
//   POST /api/v1/policy/reload  -> 200 {"rules":n,"origin"} after re-reading the configured file,
//                                  422 {"error":"policy.toml:12: rule 'x': …"} when it is refused
//                                  (the running rules stay), audited either way.
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"

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

}  // namespace portcullis::app
