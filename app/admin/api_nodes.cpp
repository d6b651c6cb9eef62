// Admin API: the nodes that serve from this ledger (ca/ledger/nodes.hpp).
//   GET  /api/v1/nodes -> {"nodes":[N…]} (nodes_json.hpp)
//   POST /api/v1/nodes/{name}/forget -> {"forgotten":name}; 404 for an unknown name, 409
//        for a node still beating (its row would be back within seconds). For a node taken
//        out of service for good, which would otherwise stay "silent" on every console.
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"
#include "app/admin/nodes_json.hpp"

#include <algorithm>

namespace portcullis::app {

using admin::json;

namespace admin {

ca::NodeHealth node_health(const NodeInfo& node) { return node.health ? node.health() : ca::NodeHealth{}; }

json nodes_json(ca::NodeStore& store, const NodeInfo& self) {
  ca::NodeList list = store.nodes();
  // Before its first beat has landed (just started, or the ledger refused it), this node
  // is still here: it is the one answering.
  const bool listed = std::any_of(list.nodes.begin(), list.nodes.end(), [&](const auto& n) { return n.name == self.name; });
  if (!listed) {
    ca::NodeRow row;
    row.name = self.name;
    row.started_at = self.started_at;
    row.seen_at = list.now;
    list.nodes.push_back(row);
    std::sort(list.nodes.begin(), list.nodes.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  }
  json out = json::array();
  for (const ca::NodeRow& row : list.nodes) {
    const bool is_self = row.name == self.name;
    std::string state = ca::node_state(row, list.now);
    std::string reason = row.reason;
    if (is_self) {
      const ca::NodeHealth now = node_health(self);
      state = now.status;
      reason = now.reason;
    } else if (state == "silent") {
      reason = "no heartbeat for " + std::to_string(list.now - row.seen_at) +
               " s: stopped without a clean shutdown, cut off from the ledger, or hung";
    }
    out.push_back(json{{"name", row.name},
                       {"state", state},
                       {"reason", reason},
                       {"version", row.version},
                       {"started_at", iso8601(row.started_at)},
                       {"seen_at", iso8601(is_self ? list.now : row.seen_at)},
                       {"seen_seconds_ago", is_self ? 0 : std::max<ca::UnixTime>(0, list.now - row.seen_at)},
                       {"uptime_seconds", state == "stopped" || state == "silent"
                                              ? json(nullptr)
                                              : json(std::max<ca::UnixTime>(0, list.now - row.started_at))},
                       {"this", is_self}});
  }
  return out;
}

}  // namespace admin

HttpResponse AdminApi::list_nodes(const std::map<std::string, std::string>& query) {
  admin::check_query(query, {});
  return admin::json_response(200, json{{"nodes", admin::nodes_json(registry_.ledger(), node_)}});
}

HttpResponse AdminApi::forget_node(const HttpRequest& request, const std::string& actor, const std::string& name) {
  admin::parse_body(request, {}, true);
  switch (registry_.ledger().forget_node(name, actor)) {
    case ca::ForgetOutcome::unknown:
      throw admin::ApiError(404, "no node called " + name + " on this ledger");
    case ca::ForgetOutcome::running:
      throw admin::ApiError(409, "node " + name + " is still beating; stop it first (it is forgotten once stopped "
                                 "or silent)");
    case ca::ForgetOutcome::forgotten:
      break;
  }
  return admin::json_response(200, json{{"forgotten", name}});
}

}  // namespace portcullis::app
