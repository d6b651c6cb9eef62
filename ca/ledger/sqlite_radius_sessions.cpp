// The SQLite ledger: RADIUS accounting sessions (RFC 2866), table radius_sessions
// (schema version 2).
#include "ca/ledger/sqlite_ledger.hpp"

#include <limits>

namespace portcullis::ca {

namespace sqlite {

void SqliteLedger::record_radius_session(const RadiusSessionRow& row) {
  if (row.nas.empty() || row.acct_session_id.empty())
    throw LedgerConflict("a RADIUS session needs a NAS and an Acct-Session-Id");
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  // One statement: the UNIQUE (nas, acct_session_id) constraint makes it an upsert.
  // An empty text never overwrites a known one: a NAS may send a value in Start only.
  auto stmt = db_.cached(
      "INSERT INTO radius_sessions (serial, nas, acct_session_id, calling_station_id, user_name, started_at, "
      "updated_at, stopped_at, nas_address, nas_ip_address, nas_ipv6_address, nas_identifier, rule, coa_reply, ssid) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
      "ON CONFLICT (nas, acct_session_id) DO UPDATE SET "
      "serial = CASE WHEN excluded.serial <> '' THEN excluded.serial ELSE serial END, "
      "calling_station_id = CASE WHEN excluded.calling_station_id <> '' THEN excluded.calling_station_id "
      "ELSE calling_station_id END, "
      "user_name = CASE WHEN excluded.user_name <> '' THEN excluded.user_name ELSE user_name END, "
      "ssid = CASE WHEN excluded.ssid <> '' THEN excluded.ssid ELSE ssid END, "
      "nas_address = CASE WHEN excluded.nas_address <> '' THEN excluded.nas_address ELSE nas_address END, "
      "nas_ip_address = CASE WHEN excluded.nas_ip_address <> '' THEN excluded.nas_ip_address ELSE nas_ip_address END, "
      "nas_ipv6_address = CASE WHEN excluded.nas_ipv6_address <> '' THEN excluded.nas_ipv6_address "
      "ELSE nas_ipv6_address END, "
      "nas_identifier = CASE WHEN excluded.nas_identifier <> '' THEN excluded.nas_identifier ELSE nas_identifier END, "
      "rule = CASE WHEN excluded.rule <> '' THEN excluded.rule ELSE rule END, "
      "coa_reply = CASE WHEN excluded.rule <> '' THEN excluded.coa_reply ELSE coa_reply END, "
      "updated_at = max(updated_at, excluded.updated_at), "
      "stopped_at = coalesce(stopped_at, excluded.stopped_at)");
  stmt->bind(1, row.serial)
      .bind(2, row.nas)
      .bind(3, row.acct_session_id)
      .bind(4, row.calling_station_id)
      .bind(5, row.user_name)
      .bind(6, static_cast<std::int64_t>(row.started_at))
      .bind(7, static_cast<std::int64_t>(row.updated_at))
      .bind(8, row.stopped_at ? std::optional<std::int64_t>(*row.stopped_at) : std::nullopt)
      .bind(9, row.nas_address)
      .bind(10, row.nas_ip_address)
      .bind(11, row.nas_ipv6_address)
      .bind(12, row.nas_identifier)
      .bind(13, row.rule)
      .bind(14, row.coa_reply)
      .bind(15, row.ssid);
  stmt->run();
  tx.commit();
}

// On the reader connection: the console's polling must not hold up accounting writes.
std::vector<RadiusSessionRow> SqliteLedger::radius_sessions(const RadiusSessionFilter& filter) {
  // The statement text varies only by which fixed clauses are present; values are bound.
  std::string sql =
      "SELECT s.nas, s.acct_session_id, s.serial, s.calling_station_id, s.user_name, s.started_at, s.updated_at, "
      "s.stopped_at, coalesce(d.name, ''), s.nas_address, s.nas_ip_address, s.nas_ipv6_address, s.nas_identifier, "
      "s.rule, s.coa_reply, s.dynauth, s.dynauth_at, s.id, s.ssid FROM radius_sessions s "
      "LEFT JOIN certificates c ON c.serial = s.serial LEFT JOIN devices d ON d.id = c.device_id WHERE 1";
  if (filter.live_only) sql += " AND s.stopped_at IS NULL";
  if (filter.id) sql += " AND s.id = ?2";
  if (filter.nas) sql += " AND s.nas = ?3";
  if (filter.ssid) sql += " AND s.ssid = ?4";
  if (filter.device) sql += " AND d.name = ?5";
  sql += " ORDER BY s.updated_at DESC, s.id DESC LIMIT ?1";
  const auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return read([&](Connection& db) {
    Statement stmt = db.prepare(sql);
    stmt.bind(1, static_cast<std::int64_t>(filter.limit > max ? max : filter.limit));
    if (filter.id) stmt.bind(2, *filter.id);
    if (filter.nas) stmt.bind(3, *filter.nas);
    if (filter.ssid) stmt.bind(4, *filter.ssid);
    if (filter.device) stmt.bind(5, *filter.device);
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
      r.nas_address = stmt.column_text(9);
      r.nas_ip_address = stmt.column_text(10);
      r.nas_ipv6_address = stmt.column_text(11);
      r.nas_identifier = stmt.column_text(12);
      r.rule = stmt.column_text(13);
      r.coa_reply = stmt.column_text(14);
      r.dynauth = stmt.column_text(15);
      if (!stmt.column_is_null(16)) r.dynauth_at = stmt.column_int64(16);
      r.id = stmt.column_int64(17);
      r.ssid = stmt.column_text(18);
      out.push_back(std::move(r));
    }
    return out;
  });
}

void SqliteLedger::mark_radius_sessions(const std::vector<RadiusSessionMark>& marks) {
  if (marks.empty()) return;
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  auto stmt = db_.cached(
      "UPDATE radius_sessions SET dynauth = ?3, dynauth_at = ?4, "
      "stopped_at = CASE WHEN ?5 = 1 THEN coalesce(stopped_at, ?4) ELSE stopped_at END "
      "WHERE nas = ?1 AND acct_session_id = ?2");
  for (const RadiusSessionMark& m : marks) {
    stmt->reset();
    stmt->bind(1, m.nas)
        .bind(2, m.acct_session_id)
        .bind(3, m.outcome)
        .bind(4, static_cast<std::int64_t>(m.at))
        .bind(5, static_cast<std::int64_t>(m.ended ? 1 : 0));
    stmt->run();
  }
  tx.commit();
}

std::vector<bool> SqliteLedger::claim_radius_sessions(const std::vector<RadiusSessionClaim>& sessions,
                                                     const std::string& claim) {
  if (sessions.empty()) return {};
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  // An upsert that changes (and returns) the row only when it holds another claim.
  auto stmt = db_.cached(
      "INSERT INTO radius_sessions AS s (serial, nas, acct_session_id, calling_station_id, user_name, started_at, "
      "updated_at, dynauth_claim) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) "
      "ON CONFLICT (nas, acct_session_id) DO UPDATE SET dynauth_claim = excluded.dynauth_claim "
      "WHERE s.dynauth_claim <> excluded.dynauth_claim RETURNING id");
  std::vector<bool> taken;
  taken.reserve(sessions.size());
  for (const RadiusSessionClaim& c : sessions) {
    stmt->bind(1, c.serial)
        .bind(2, c.nas)
        .bind(3, c.acct_session_id)
        .bind(4, c.calling_station_id)
        .bind(5, c.user_name)
        .bind(6, static_cast<std::int64_t>(c.at))
        .bind(7, claim);
    // SQLite makes the change at the first step and then yields the RETURNING row;
    // the reset finishes the statement, which COMMIT needs.
    taken.push_back(stmt->step());
    stmt->reset();
  }
  tx.commit();
  return taken;
}

std::size_t SqliteLedger::stop_radius_sessions_of_nas(const std::string& nas, const std::string& nas_address,
                                                      UnixTime at) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  auto stmt = db_.cached(
      "UPDATE radius_sessions SET stopped_at = ?3, updated_at = max(updated_at, ?3) "
      "WHERE nas = ?1 AND stopped_at IS NULL AND (?2 = '' OR nas_address = '' OR nas_address = ?2)");
  stmt->bind(1, nas).bind(2, nas_address).bind(3, static_cast<std::int64_t>(at));
  stmt->run();
  const auto changed = static_cast<std::size_t>(sqlite3_changes(db_.handle()));
  tx.commit();
  return changed;
}

std::size_t SqliteLedger::prune_radius_sessions(UnixTime stopped_before, std::size_t max_rows) {
  const auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  auto old = db_.cached("DELETE FROM radius_sessions WHERE stopped_at IS NOT NULL AND stopped_at < ?1");
  old->bind(1, static_cast<std::int64_t>(stopped_before));
  old->run();
  std::size_t deleted = static_cast<std::size_t>(sqlite3_changes(db_.handle()));
  // Past the row bound, the stopped sessions that stopped first go (stopped_at is not
  // indexed: this scan runs at most once a minute).
  auto excess = db_.cached(
      "DELETE FROM radius_sessions WHERE id IN (SELECT id FROM radius_sessions WHERE stopped_at IS NOT NULL "
      "ORDER BY stopped_at, id LIMIT max(0, (SELECT count(*) FROM radius_sessions) - ?1))");
  excess->bind(1, static_cast<std::int64_t>(max_rows > max ? max : max_rows));
  excess->run();
  deleted += static_cast<std::size_t>(sqlite3_changes(db_.handle()));
  tx.commit();
  return deleted;
}

}  // namespace sqlite
}  // namespace portcullis::ca
