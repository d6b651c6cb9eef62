// The SQLite ledger: RADIUS accounting sessions (RFC 2866), table radius_sessions
// (schema version 2).
#include "ca/sqlite_ledger.hpp"

#include <limits>

namespace portcullis::ca {

namespace sqlite {

void SqliteLedger::record_radius_session(const RadiusSessionRow& row) {
  if (row.nas.empty() || row.acct_session_id.empty())
    throw LedgerConflict("a RADIUS session needs a NAS and an Acct-Session-Id");
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  // One statement: the UNIQUE (nas, acct_session_id) constraint makes it an upsert.
  auto stmt = db_.cached(
      "INSERT INTO radius_sessions (serial, nas, acct_session_id, calling_station_id, user_name, started_at, "
      "updated_at, stopped_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
      "ON CONFLICT (nas, acct_session_id) DO UPDATE SET "
      "serial = CASE WHEN excluded.serial <> '' THEN excluded.serial ELSE serial END, "
      "calling_station_id = CASE WHEN excluded.calling_station_id <> '' THEN excluded.calling_station_id "
      "ELSE calling_station_id END, "
      "user_name = CASE WHEN excluded.user_name <> '' THEN excluded.user_name ELSE user_name END, "
      "updated_at = max(updated_at, excluded.updated_at), "
      "stopped_at = coalesce(stopped_at, excluded.stopped_at)");
  stmt->bind(1, row.serial)
      .bind(2, row.nas)
      .bind(3, row.acct_session_id)
      .bind(4, row.calling_station_id)
      .bind(5, row.user_name)
      .bind(6, static_cast<std::int64_t>(row.started_at))
      .bind(7, static_cast<std::int64_t>(row.updated_at))
      .bind(8, row.stopped_at ? std::optional<std::int64_t>(*row.stopped_at) : std::nullopt);
  stmt->run();
  tx.commit();
}

std::vector<RadiusSessionRow> SqliteLedger::list_radius_sessions(bool live_only, std::size_t limit) {
  std::string sql =
      "SELECT s.nas, s.acct_session_id, s.serial, s.calling_station_id, s.user_name, s.started_at, s.updated_at, "
      "s.stopped_at, coalesce(d.name, '') FROM radius_sessions s "
      "LEFT JOIN certificates c ON c.serial = s.serial LEFT JOIN devices d ON d.id = c.device_id";
  if (live_only) sql += " WHERE s.stopped_at IS NULL";
  sql += " ORDER BY s.updated_at DESC, s.id DESC LIMIT ?1";
  const auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  std::lock_guard lock(mutex_);
  Statement stmt = db_.prepare(sql);
  stmt.bind(1, static_cast<std::int64_t>(limit > max ? max : limit));
  std::vector<RadiusSessionRow> out;
  while (stmt.step()) {
    RadiusSessionRow r;
    r.nas = stmt.column_text(0);
    r.acct_session_id = stmt.column_text(1);
    r.serial = stmt.column_text(2);
    r.calling_station_id = stmt.column_text(3);
    r.user_name = stmt.column_text(4);
    r.started_at = stmt.column_int64(5);
    r.updated_at = stmt.column_int64(6);
    if (!stmt.column_is_null(7)) r.stopped_at = stmt.column_int64(7);
    r.device = stmt.column_text(8);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace sqlite
}  // namespace portcullis::ca
