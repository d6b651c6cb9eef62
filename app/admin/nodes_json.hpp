// The nodes serving from this ledger as GET /nodes and GET /overview show them. Private to
// app/admin.
#pragma once

#include "app/admin/api.hpp"
#include "app/admin/json.hpp"
#include "ca/ledger/nodes.hpp"

namespace portcullis::app::admin {

// This node's health now: `node.health`'s, "ok" without one.
ca::NodeHealth node_health(const NodeInfo& node);

// [{"name","state":"ok"|"degraded"|"stopped"|"silent","reason","version","started_at",
//   "seen_at","seen_seconds_ago","uptime_seconds","this"}…] by name. This node's entry
// carries its health now rather than its last beat's.
json nodes_json(ca::NodeStore& store, const NodeInfo& self);

}  // namespace portcullis::app::admin
