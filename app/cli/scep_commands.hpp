// The SCEP subcommands: `portcullis challenge`, through the running service's admin API.
#pragma once

#include "app/cli/admin_commands.hpp"

namespace portcullis::app {

void add_scep_commands(CLI::App& app, CliContext& context, std::function<int()>& action);

// "90", "90s", "60m", "2h", "1d" -> seconds; std::invalid_argument otherwise.
std::int64_t parse_duration_seconds(const std::string& text);

}  // namespace portcullis::app
