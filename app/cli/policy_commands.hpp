// `portcullis policy test`: which rule decides for a device on a NAS, and the reply it
// gets, computed offline from the config, the ledger and the policy file (no network, no
// running service needed), with the same engine and dictionary the service uses.
#pragma once

#include "app/cli/admin_commands.hpp"

#include <CLI/CLI.hpp>

#include <functional>

namespace portcullis::app {

void add_policy_commands(CLI::App& app, CliContext& context, std::function<int()>& action);

}  // namespace portcullis::app
