#include "app/cli/cli.hpp"

int main(int argc, char** argv) { return portcullis::app::run_cli(argc, argv); }
