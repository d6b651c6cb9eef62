// The SQLite ledger: the nodes' heartbeat rows, table nodes (schema v12). One node writes a
// SQLite ledger, but its row still tells the console when it last beat and how it was.
#include "ca/ledger/sqlite_ledger.hpp"

namespace portcullis::ca::sqlite {
namespace {

#define PORTCULLIS_NODE_COLUMNS "name, instance, version, status, reason, started_at, interval_seconds, seen_at"

NodeRow node_from_row(const Statement& row) {
  NodeRow n;
  n.name = row.column_text(0);
  n.instance = row.column_text(1);
  n.version = row.column_text(2);
  n.status = row.column_text(3);
  n.reason = row.column_text(4);
  n.started_at = row.column_int64(5);
  n.interval_seconds = row.column_int64(6);
  n.seen_at = row.column_int64(7);
  return n;
}

std::optional<NodeRow> node_by_name(Connection& db, const std::string& name) {
  auto stmt = db.cached("SELECT " PORTCULLIS_NODE_COLUMNS " FROM nodes WHERE name = ?1");
  stmt->bind(1, name);
  if (!stmt->step()) return std::nullopt;
  return node_from_row(*stmt);
}

}  // namespace

std::optional<NodeRow> SqliteLedger::record_node(const NodeBeat& beat) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  std::optional<NodeRow> before = node_by_name(db_, beat.name);
  auto stmt = db_.cached(
      "INSERT INTO nodes (name, instance, version, status, reason, started_at, interval_seconds, seen_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, unixepoch()) ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, "
      "version = excluded.version, status = excluded.status, reason = excluded.reason, "
      "started_at = excluded.started_at, interval_seconds = excluded.interval_seconds, seen_at = excluded.seen_at");
  stmt->bind(1, beat.name).bind(2, beat.instance).bind(3, beat.version).bind(4, beat.status).bind(5, beat.reason);
  stmt->bind(6, static_cast<std::int64_t>(beat.started_at)).bind(7, beat.interval_seconds);
  stmt->run();
  tx.commit();
  return before;
}

NodeList SqliteLedger::nodes() {
  return read([](Connection& db) {
    NodeList out;
    out.now = db.query_int64("SELECT unixepoch()");
    Statement stmt = db.prepare("SELECT " PORTCULLIS_NODE_COLUMNS " FROM nodes ORDER BY name");
    while (stmt.step()) out.nodes.push_back(node_from_row(stmt));
    return out;
  });
}

ForgetOutcome SqliteLedger::forget_node(const std::string& name, const std::string& actor) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  const std::optional<NodeRow> row = node_by_name(db_, name);
  if (!row) return ForgetOutcome::unknown;
  const std::string state = node_state(*row, db_.query_int64("SELECT unixepoch()"));
  if (state != "stopped" && state != "silent") return ForgetOutcome::running;
  auto stmt = db_.cached("DELETE FROM nodes WHERE name = ?1");
  stmt->bind(1, name);
  stmt->run();
  insert_audit_locked({0, now_unix(), actor, "node.forget", name, "was " + state});
  tx.commit();
  return ForgetOutcome::forgotten;
}

}  // namespace portcullis::ca::sqlite
