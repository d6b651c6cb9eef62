// The nodes that serve from this ledger: each writes a heartbeat row every few seconds
// (app/node_heartbeat.hpp), so that every node's console and API can say which nodes are
// up, which are degraded, and which have gone silent. Times are the ledger's own clock
// (the database server's for PostgreSQL), so a node whose clock is off neither looks
// silent nor hides its silence.
#pragma once

#include "ca/records.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::ca {

// How a node is, by its own judgement: the status and reason of its beats.
struct NodeHealth {
  std::string status = "ok";   // "ok" | "degraded"
  std::string reason;          // why degraded
};

// What a node says of itself in each heartbeat.
struct NodeBeat {
  std::string name;             // [service] node_name: unique among the ledger's nodes
  std::string instance;         // random per process start: two processes under one name differ here
  std::string version;          // portcullis version
  std::string status;           // "ok" | "degraded" | "stopped" (its last beat on a clean stop)
  std::string reason;           // why degraded; "" otherwise
  UnixTime started_at = 0;
  std::int64_t interval_seconds = 10;   // how often it beats
};

struct NodeRow : NodeBeat {
  UnixTime seen_at = 0;         // its last beat, by the ledger's clock
};

// A node that has missed this many beats is silent: killed, cut off from the ledger, or
// hung. Three, so that one slow write is not mistaken for a dead node.
inline constexpr std::int64_t kSilentAfterBeats = 3;

// "ok", "degraded", "stopped", or "silent" (its row is older than kSilentAfterBeats beats).
std::string node_state(const NodeRow& row, UnixTime now);

struct NodeList {
  UnixTime now = 0;             // the ledger's clock when read
  std::vector<NodeRow> nodes;   // by name
};

enum class ForgetOutcome { forgotten, unknown, running };

class NodeStore {
 public:
  virtual ~NodeStore() = default;

  // Writes `beat` as the row of beat.name, seen now. Returns the row it replaced (nullopt:
  // the first beat under that name), so that a node sees another process beating under
  // its name.
  virtual std::optional<NodeRow> record_node(const NodeBeat& beat) = 0;
  virtual NodeList nodes() = 0;
  // Deletes the row of a node that is stopped or silent, audited; a running node's row
  // stays (it would be written again within seconds, and its absence would hide it).
  virtual ForgetOutcome forget_node(const std::string& name, const std::string& actor) = 0;
};

}  // namespace portcullis::ca
