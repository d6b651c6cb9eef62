// `portcullis serve`: loads the config, opens the ledger and the CA, builds the index and
// runs the listeners until SIGTERM/SIGINT.
#pragma once

#include <string>

namespace portcullis::app {

// Returns the process exit code. Throws ConfigError / std::runtime_error on a start-up
// failure (bad config, pending CA, newer ledger, port in use).
int run_service(const std::string& config_path);

}  // namespace portcullis::app
