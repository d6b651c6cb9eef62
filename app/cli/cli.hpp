// The `portcullis` command line: init, serve, ca install-cert, and the admin commands
// that talk to the running service's admin API.
#pragma once

namespace portcullis::app {

int run_cli(int argc, char** argv);

}  // namespace portcullis::app
