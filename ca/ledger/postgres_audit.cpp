// The PostgreSQL ledger: the append-only audit log and its bounded ring of refused SCEP
// requests (append_refusals).
#include "ca/ledger/ledger_rules.hpp"
#include "ca/ledger/postgres_ledger.hpp"

namespace portcullis::ca::postgres {

void insert_audit(Connection& db, const AuditEntry& entry) {
  db.exec("INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
          Params()
              .add(entry.at != 0 ? entry.at : now_unix())
              .add(entry.actor.empty() ? std::string("system") : entry.actor)
              .add(entry.action)
              .add(entry.target)
              .add(entry.detail));
}

void PostgresLedger::append_audit(const AuditEntry& entry) {
  if (entry.action.empty()) throw LedgerConflict("an audit entry needs an action");
  // Refusal rows are counted and pruned (append_refusals); one written here would be neither.
  if (detail::is_refusal_row(entry)) throw LedgerConflict("refused SCEP requests are audited through append_refusals");
  write([&](Connection& db) { insert_audit(db, entry); });
}

std::vector<AuditEntry> PostgresLedger::audit(const AuditFilter& filter) {
  std::string sql = "SELECT id, at, actor, action, target, detail FROM audit WHERE true";
  Params params;
  if (filter.target) {
    params.add(*filter.target);
    sql += " AND target = $" + std::to_string(params.size());
  }
  if (filter.action) {
    params.add(*filter.action);
    sql += " AND action = $" + std::to_string(params.size());
  }
  params.add(detail::clamp_count(filter.limit));
  sql += " ORDER BY id DESC LIMIT $" + std::to_string(params.size());
  return read([&](Connection& db) {
    const Result r = db.exec(sql, params);
    std::vector<AuditEntry> entries;
    for (int i = 0; i < r.rows(); ++i) {
      entries.push_back({r.int64(i, 0), r.int64(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4), r.text(i, 5)});
    }
    return entries;
  });
}

void PostgresLedger::append_refusals(const std::vector<AuditEntry>& rows, std::size_t keep) {
  if (rows.empty()) return;
  for (const AuditEntry& row : rows) {
    if (!detail::is_refusal_row(row)) throw LedgerConflict("append_refusals takes only refused SCEP requests");
  }
  const std::int64_t limit = detail::clamp_count(keep);
  write([&](Connection& db) {
    for (const AuditEntry& row : rows) insert_audit(db, row);
    // The counter's row lock orders concurrent batches (on every node): each sees the
    // count including the batches committed before it.
    const Result counted = db.exec(
        "UPDATE meta SET value = value + $1 WHERE key = 'scep_refusal_rows' RETURNING value",
        Params().add(static_cast<std::int64_t>(rows.size())));
    if (counted.rows() != 1) throw LedgerError("ledger: the scep_refusal_rows counter is missing");
    const std::int64_t count = counted.int64(0, 0);
    if (count <= limit) return;
    // The WHERE terms are the partial index's (audit_refusals), so the oldest are read from it.
    const Result pruned = db.exec(
        "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE actor = 'scep' AND action IN "
        "('scep.reject', 'scep.reject.suppressed') ORDER BY id LIMIT $1)",
        Params().add(count - limit));
    db.exec("UPDATE meta SET value = value - $1 WHERE key = 'scep_refusal_rows'",
            Params().add(static_cast<std::int64_t>(pruned.affected())));
  });
}

}  // namespace portcullis::ca::postgres
