#include "app/cli/node_commands.hpp"

#include "app/cli/admin_client.hpp"
#include "app/cli/output.hpp"
#include "app/config.hpp"
#include "app/http/url.hpp"

#include <iostream>
#include <memory>

namespace portcullis::app {
namespace {

// GET /api/v1/nodes as a table.
int run_nodes_list(const CliContext& ctx) {
  AdminClient client(load_config(resolve_config_path(ctx.config_path)));
  const nlohmann::json body = client.get("/nodes");
  if (ctx.json) {
    std::cout << body.dump(2) << '\n';
    return 0;
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& node : body.at("nodes")) {
    nlohmann::json row = node;
    if (node.at("this").get<bool>()) row["name"] = node.at("name").get<std::string>() + " (this)";
    row["seen"] = std::to_string(node.at("seen_seconds_ago").get<std::int64_t>()) + " s ago";
    rows.push_back(std::move(row));
  }
  print_table(std::cout, rows,
              {{"NAME", "name"}, {"STATE", "state"}, {"SEEN", "seen"}, {"VERSION", "version"},
               {"STARTED", "started_at"}, {"REASON", "reason"}});
  return 0;
}

int run_nodes_forget(const CliContext& ctx, const std::string& name) {
  AdminClient client(load_config(resolve_config_path(ctx.config_path)));
  const nlohmann::json body = client.post("/nodes/" + url_encode(name) + "/forget", nlohmann::json::object());
  if (ctx.json)
    std::cout << body.dump(2) << '\n';
  else
    std::cout << "forgot node " << name << "\n";
  return 0;
}

}  // namespace

void add_node_commands(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto* nodes = app.add_subcommand("nodes", "The nodes serving from this ledger: up, degraded, stopped or silent");
  nodes->require_subcommand(1);
  auto* list = nodes->add_subcommand("list", "Each node's state, last heartbeat, version and why it is degraded");
  list->footer(examples({"portcullis nodes list", "portcullis nodes list --json"}));
  list->callback([&] { action = [&] { return run_nodes_list(ctx); }; });
  auto name = std::make_shared<std::string>();
  auto* forget = nodes->add_subcommand("forget", "Drop a stopped or silent node (one taken out of service) from the list");
  forget->add_option("name", *name, "The node's name, as `nodes list` shows it")->required();
  forget->callback([&, name] { action = [&, name] { return run_nodes_forget(ctx, *name); }; });
}

}  // namespace portcullis::app
