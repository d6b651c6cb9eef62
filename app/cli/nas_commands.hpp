// `portcullis nas ...`: certificates for NAS clients that speak RadSec (RFC 6614), issued by
// our CA through the running service's admin API.
#pragma once

#include "app/cli/admin_commands.hpp"

namespace portcullis::app {

void add_nas_commands(CLI::App& app, CliContext& context, std::function<int()>& action);

}  // namespace portcullis::app
