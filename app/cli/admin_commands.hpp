// The admin subcommands (devices, certs, revoke, issue): each one a call to the running
// service's admin API.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace portcullis::app {

struct CliContext {
  std::string config_path;
  bool json = false;
};

// Adds the subcommands to `app`; the one chosen sets `action`, which run_cli calls.
void add_admin_commands(CLI::App& app, CliContext& context, std::function<int()>& action);

// --config, else $PORTCULLIS_CONFIG, else ./portcullis.toml, else /etc/portcullis/portcullis.toml.
std::string resolve_config_path(const std::string& given);

// The same lookup, and which of the four gave the path (for the overview).
struct ConfigLocation {
  std::string path;
  std::string source;  // "--config", "$PORTCULLIS_CONFIG", "./portcullis.toml", "default"
};
ConfigLocation locate_config(const std::string& given);

}  // namespace portcullis::app
