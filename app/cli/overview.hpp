// `portcullis` with no subcommand: where the config is, whether the service answers its
// admin API health check, and the three commands a newcomer wants next.
#pragma once

#include "app/cli/admin_commands.hpp"

#include <iosfwd>
#include <string_view>

namespace portcullis::app {

// Prints the overview (JSON with --json) and returns the exit code, 0: a missing config or
// a stopped service is what the overview reports, not an error.
int print_overview(std::ostream& out, const CliContext& ctx, std::string_view version);

}  // namespace portcullis::app
