// `portcullis nodes ...`: the nodes serving from this ledger (ca/ledger/nodes.hpp), through
// the running service's admin API.
#pragma once

#include "app/cli/admin_commands.hpp"

namespace portcullis::app {

void add_node_commands(CLI::App& app, CliContext& context, std::function<int()>& action);

}  // namespace portcullis::app
