// The SQLite ledger: audit rows of refused SCEP requests, a bounded ring inside the audit
// log (schema v7). Refusals cost an unauthenticated sender nothing, so they are written in
// batches through the group commit and the oldest are pruned beyond a fixed number.
#include "ca/ledger/ledger_rules.hpp"
#include "ca/ledger/sqlite_ledger.hpp"

#include <algorithm>
#include <limits>

namespace portcullis::ca::sqlite {

void SqliteLedger::append_refusals(const std::vector<AuditEntry>& rows, std::size_t keep) {
  if (rows.empty()) return;
  for (const AuditEntry& row : rows) {
    if (!detail::is_refusal_row(row)) throw LedgerConflict("append_refusals takes only refused SCEP requests");
  }
  const auto limit = static_cast<std::int64_t>(std::min<std::size_t>(keep, std::numeric_limits<std::int64_t>::max()));
  // A unit of the group commit: when issuances are being committed, these rows share
  // their transaction and its sync.
  issuance_commits_.run([&] {
    for (const AuditEntry& row : rows) insert_audit_locked(row);
    std::int64_t count = 0;
    {
      auto stmt = db_.cached(
          "UPDATE meta SET value = value + ?1 WHERE key = 'scep_refusal_rows' RETURNING value");
      stmt->bind(1, static_cast<std::int64_t>(rows.size()));
      if (!stmt->step()) throw LedgerError("ledger: the scep_refusal_rows counter is missing");
      count = stmt->column_int64(0);
      stmt->run();  // drain, so the statement completes before the next one
    }
    if (count <= limit) return;
    // The WHERE terms are the partial index's (audit_refusals), so the oldest are read from it.
    auto prune = db_.cached(
        "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE actor = 'scep' AND action IN "
        "('scep.reject', 'scep.reject.suppressed') ORDER BY id LIMIT ?1)");
    prune->bind(1, count - limit);
    prune->run();
    const std::int64_t deleted = sqlite3_changes(db_.handle());
    auto fix = db_.cached("UPDATE meta SET value = value - ?1 WHERE key = 'scep_refusal_rows'");
    fix->bind(1, deleted);
    fix->run();
  });
}

}  // namespace portcullis::ca::sqlite
