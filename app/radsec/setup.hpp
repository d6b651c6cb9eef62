// The RadSec listener as `serve` runs it: its client table from [[radius.clients]] with
// transport = "radsec", its TLS files from the CA folder, and the ledger's changes wired to
// close the connections of a revoked NAS certificate.
#pragma once

#include "app/config.hpp"
#include "app/radsec/listener.hpp"
#include "ca/authority.hpp"
#include "ca/registry.hpp"

#include <memory>

namespace portcullis::app {

// Throws std::invalid_argument / std::runtime_error (a bad address, an unreadable ca_file)
// before anything is applied.
// `activities` (may be null) gives each client its counters (radius/nas_activity.hpp).
std::shared_ptr<const radius::radsec::RadsecClients> make_radsec_clients(const Config& config,
                                                                         radius::NasActivities* activities = nullptr);

// Null when [radsec] is not enabled. Binds at once (throws naming what failed); accepting
// starts when `io` runs. `events` (may be null) gets the refused connections and must
// outlive the listener.
std::shared_ptr<RadsecListener> start_radsec_listener(boost::asio::io_context& io, const Config& config,
                                                      const ca::Authority& authority,
                                                      const ca::IdentityView& identities, ca::Registry& registry,
                                                      radius::Server& server, ca::EventSink* events = nullptr,
                                                      radius::NasActivities* activities = nullptr);

}  // namespace portcullis::app
