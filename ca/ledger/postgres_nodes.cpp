// The PostgreSQL ledger: the heartbeat rows of the nodes that share it, table nodes
// (schema v12). seen_at is the server's clock, the one clock every node reads.
#include "ca/ledger/postgres_ledger.hpp"

namespace portcullis::ca::postgres {
namespace {

constexpr const char* kNodeColumns =
    "name, instance, version, status, reason, started_at, interval_seconds, seen_at";
constexpr const char* kServerNow = "extract(epoch FROM clock_timestamp())::bigint";

NodeRow node_from(const Result& r, int i) {
  NodeRow n;
  n.name = r.text(i, 0);
  n.instance = r.text(i, 1);
  n.version = r.text(i, 2);
  n.status = r.text(i, 3);
  n.reason = r.text(i, 4);
  n.started_at = r.int64(i, 5);
  n.interval_seconds = r.int64(i, 6);
  n.seen_at = r.int64(i, 7);
  return n;
}

// FOR UPDATE: a beat and a forget of one name run one after the other.
std::optional<NodeRow> node_for_update(Connection& db, const std::string& name) {
  const Result r =
      db.exec(std::string("SELECT ") + kNodeColumns + " FROM nodes WHERE name = $1 FOR UPDATE", Params().add(name));
  if (r.rows() == 0) return std::nullopt;
  return node_from(r, 0);
}

}  // namespace

std::optional<NodeRow> PostgresLedger::record_node(const NodeBeat& beat) {
  return write([&](Connection& db) {
    std::optional<NodeRow> before = node_for_update(db, beat.name);
    db.exec(std::string("INSERT INTO nodes (name, instance, version, status, reason, started_at, interval_seconds, "
                        "seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, ") +
                kServerNow +
                ") ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, version = excluded.version, "
                "status = excluded.status, reason = excluded.reason, started_at = excluded.started_at, "
                "interval_seconds = excluded.interval_seconds, seen_at = excluded.seen_at",
            Params()
                .add(beat.name)
                .add(beat.instance)
                .add(beat.version)
                .add(beat.status)
                .add(beat.reason)
                .add(static_cast<std::int64_t>(beat.started_at))
                .add(beat.interval_seconds));
    return before;
  });
}

NodeList PostgresLedger::nodes() {
  return read([](Connection& db) {
    const Result r = db.exec(std::string("SELECT ") + kNodeColumns + ", " + kServerNow + " FROM nodes ORDER BY name");
    NodeList out;
    for (int i = 0; i < r.rows(); ++i) out.nodes.push_back(node_from(r, i));
    out.now = r.rows() > 0 ? r.int64(0, 8) : db.exec(std::string("SELECT ") + kServerNow).int64(0, 0);
    return out;
  });
}

ForgetOutcome PostgresLedger::forget_node(const std::string& name, const std::string& actor) {
  return write([&](Connection& db) {
    const std::optional<NodeRow> row = node_for_update(db, name);
    if (!row) return ForgetOutcome::unknown;
    const std::string state = node_state(*row, db.exec(std::string("SELECT ") + kServerNow).int64(0, 0));
    if (state != "stopped" && state != "silent") return ForgetOutcome::running;
    db.exec("DELETE FROM nodes WHERE name = $1", Params().add(name));
    insert_audit(db, {0, now_unix(), actor, "node.forget", name, "was " + state});
    return ForgetOutcome::forgotten;
  });
}

}  // namespace portcullis::ca::postgres
