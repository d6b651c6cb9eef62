// `portcullis init --dir B --join A`: a second node on node A's shared PostgreSQL ledger.
#pragma once

#include "app/init.hpp"

#include <cstdint>
#include <string>

namespace portcullis::app {

// Copies A's data folder (config, CA material and keys, admin token) to the new folder
// `options.dir` with the ports and node name of `options`, after checking that A's ledger
// is a shared one (PostgreSQL), that it holds A's CA (A's RA certificate is recorded
// there), and that the name is neither A's nor that of a node still beating on the ledger.
// Refuses an existing folder; on failure removes what it created.
InitSummary run_join(const InitOptions& options);

// The config text with [service] node_name set to `name` (the line added when missing).
std::string rename_node(const std::string& config, const std::string& name);

// A's config text with the listener ports replaced: [http] port and the port in its
// public_url, [admin] port, [radius] auth_port and acct_port (= radius + 1). Throws
// std::runtime_error naming a setting it cannot find.
std::string retarget_ports(const std::string& config, std::uint16_t http_port, std::uint16_t admin_port,
                           std::uint16_t radius_port);

}  // namespace portcullis::app
