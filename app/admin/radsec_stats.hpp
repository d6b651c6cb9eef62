// What the RadSec listener counts, read by GET /metrics at scrape time (app/admin/metrics.cpp
// names the metrics; docs/operations.md lists them).
#pragma once

#include <prometheus/client_metric.h>

#include <cstdint>
#include <map>
#include <string>

namespace portcullis::app {

struct RadsecStats {
  std::uint64_t open = 0;                               // TCP connections, handshakes included
  std::map<std::string, std::uint64_t> open_by_nas;     // admitted ones, by RadSec client name
  std::uint64_t accepted = 0;                           // TCP connections taken under the total cap
  std::map<std::string, std::uint64_t> admitted_by_tls_version;  // "TLSv1.3", "TLSv1.2"
  std::map<std::string, std::uint64_t> refused_by_reason;        // the event vocabulary (docs/events.md)
  std::uint64_t closed_idle = 0, closed_revoked = 0, closed_bad_framing = 0;
  std::uint64_t requests = 0, replies = 0;              // RADIUS packets in and out
  prometheus::ClientMetric handshake;                   // histogram of TLS handshake seconds
};

}  // namespace portcullis::app
