// `portcullis events`: the decision events (GET /api/v1/events), newest first;
// `portcullis why`: the latest of them for a device in words (GET /api/v1/why/{target}).
#pragma once

#include "app/cli/admin_commands.hpp"

#include <CLI/CLI.hpp>

#include <functional>

namespace portcullis::app {

void add_events_commands(CLI::App& app, CliContext& context, std::function<int()>& action);

}  // namespace portcullis::app
