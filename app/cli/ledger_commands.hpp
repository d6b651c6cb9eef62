// `portcullis ledger migrate --to postgresql://…`: copies this node's SQLite ledger into an
// empty PostgreSQL database (ca/ledger/ledger_copy.hpp), shows its progress, the row
// counts and checksums of both sides, and the [ledger] settings to put in the config.
#pragma once

#include "app/cli/admin_commands.hpp"

#include <CLI/CLI.hpp>

#include <functional>

namespace portcullis::app {

void add_ledger_commands(CLI::App& app, CliContext& context, std::function<int()>& action);

}  // namespace portcullis::app
