#include "ca/ledger/nodes.hpp"

namespace portcullis::ca {

std::string node_state(const NodeRow& row, UnixTime now) {
  if (row.status == "stopped") return row.status;
  const std::int64_t interval = row.interval_seconds > 0 ? row.interval_seconds : 1;
  if (now - row.seen_at > kSilentAfterBeats * interval) return "silent";
  return row.status;
}

}  // namespace portcullis::ca
