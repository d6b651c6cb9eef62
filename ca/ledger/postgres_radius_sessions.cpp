// The PostgreSQL ledger: RADIUS accounting sessions (RFC 2866) and the Disconnect/CoA
// outcomes (RFC 5176) marked on them.
#include "ca/ledger/ledger_rules.hpp"
#include "ca/ledger/postgres_ledger.hpp"

namespace portcullis::ca::postgres {

void PostgresLedger::record_radius_session(const RadiusSessionRow& row) {
  if (row.nas.empty() || row.acct_session_id.empty())
    throw LedgerConflict("a RADIUS session needs a NAS and an Acct-Session-Id");
  // One statement: the UNIQUE (nas, acct_session_id) constraint makes it an upsert, also
  // between nodes. An empty text never overwrites a known one: a NAS may send a value in
  // Start only.
  write([&](Connection& db) {
    db.exec(
        "INSERT INTO radius_sessions AS s (serial, nas, acct_session_id, calling_station_id, user_name, started_at, "
        "updated_at, stopped_at, nas_address, nas_ip_address, nas_ipv6_address, nas_identifier, rule, coa_reply, ssid) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
        "ON CONFLICT (nas, acct_session_id) DO UPDATE SET "
        "serial = CASE WHEN excluded.serial <> '' THEN excluded.serial ELSE s.serial END, "
        "calling_station_id = CASE WHEN excluded.calling_station_id <> '' THEN excluded.calling_station_id "
        "ELSE s.calling_station_id END, "
        "user_name = CASE WHEN excluded.user_name <> '' THEN excluded.user_name ELSE s.user_name END, "
        "ssid = CASE WHEN excluded.ssid <> '' THEN excluded.ssid ELSE s.ssid END, "
        "nas_address = CASE WHEN excluded.nas_address <> '' THEN excluded.nas_address ELSE s.nas_address END, "
        "nas_ip_address = CASE WHEN excluded.nas_ip_address <> '' THEN excluded.nas_ip_address "
        "ELSE s.nas_ip_address END, "
        "nas_ipv6_address = CASE WHEN excluded.nas_ipv6_address <> '' THEN excluded.nas_ipv6_address "
        "ELSE s.nas_ipv6_address END, "
        "nas_identifier = CASE WHEN excluded.nas_identifier <> '' THEN excluded.nas_identifier "
        "ELSE s.nas_identifier END, "
        "rule = CASE WHEN excluded.rule <> '' THEN excluded.rule ELSE s.rule END, "
        "coa_reply = CASE WHEN excluded.rule <> '' THEN excluded.coa_reply ELSE s.coa_reply END, "
        "updated_at = greatest(s.updated_at, excluded.updated_at), "
        "stopped_at = coalesce(s.stopped_at, excluded.stopped_at)",
        Params()
            .add(row.serial)
            .add(row.nas)
            .add(row.acct_session_id)
            .add(row.calling_station_id)
            .add(row.user_name)
            .add(static_cast<std::int64_t>(row.started_at))
            .add(static_cast<std::int64_t>(row.updated_at))
            .add(row.stopped_at ? std::optional<std::int64_t>(*row.stopped_at) : std::nullopt)
            .add(row.nas_address)
            .add(row.nas_ip_address)
            .add(row.nas_ipv6_address)
            .add(row.nas_identifier)
            .add(row.rule)
            .add(row.coa_reply)
            .add(row.ssid));
  });
}

std::vector<RadiusSessionRow> PostgresLedger::radius_sessions(const RadiusSessionFilter& filter) {
  // The statement text varies only by which fixed clauses are present; values are parameters.
  std::string sql =
      "SELECT s.nas, s.acct_session_id, s.serial, s.calling_station_id, s.user_name, s.started_at, s.updated_at, "
      "s.stopped_at, coalesce(d.name, ''), s.nas_address, s.nas_ip_address, s.nas_ipv6_address, s.nas_identifier, "
      "s.rule, s.coa_reply, s.dynauth, s.dynauth_at, s.id, s.ssid FROM radius_sessions s "
      "LEFT JOIN certificates c ON c.serial = s.serial LEFT JOIN devices d ON d.id = c.device_id WHERE true";
  Params params;
  params.add(detail::clamp_count(filter.limit));
  auto clause = [&](const char* column, const std::string& value) {
    params.add(value);
    sql += std::string(" AND ") + column + " = $" + std::to_string(params.size());
  };
  if (filter.live_only) sql += " AND s.stopped_at IS NULL";
  if (filter.id) {
    params.add(*filter.id);
    sql += " AND s.id = $" + std::to_string(params.size());
  }
  if (filter.nas) clause("s.nas", *filter.nas);
  if (filter.ssid) clause("s.ssid", *filter.ssid);
  if (filter.device) clause("d.name", *filter.device);
  sql += " ORDER BY s.updated_at DESC, s.id DESC LIMIT $1";
  return read([&](Connection& db) {
    const Result r = db.exec(sql, params);
    std::vector<RadiusSessionRow> out;
    for (int i = 0; i < r.rows(); ++i) {
      RadiusSessionRow s;
      s.nas = r.text(i, 0);
      s.acct_session_id = r.text(i, 1);
      s.serial = r.text(i, 2);
      s.calling_station_id = r.text(i, 3);
      s.user_name = r.text(i, 4);
      s.started_at = r.int64(i, 5);
      s.updated_at = r.int64(i, 6);
      s.stopped_at = r.optional_int64(i, 7);
      s.device = r.text(i, 8);
      s.nas_address = r.text(i, 9);
      s.nas_ip_address = r.text(i, 10);
      s.nas_ipv6_address = r.text(i, 11);
      s.nas_identifier = r.text(i, 12);
      s.rule = r.text(i, 13);
      s.coa_reply = r.text(i, 14);
      s.dynauth = r.text(i, 15);
      s.dynauth_at = r.optional_int64(i, 16);
      s.id = r.int64(i, 17);
      s.ssid = r.text(i, 18);
      out.push_back(std::move(s));
    }
    return out;
  });
}

void PostgresLedger::mark_radius_sessions(const std::vector<RadiusSessionMark>& marks) {
  if (marks.empty()) return;
  write([&](Connection& db) {
    for (const RadiusSessionMark& m : marks) {
      db.exec(
          "UPDATE radius_sessions SET dynauth = $3, dynauth_at = $4, "
          "stopped_at = CASE WHEN $5::boolean THEN coalesce(stopped_at, $4) ELSE stopped_at END "
          "WHERE nas = $1 AND acct_session_id = $2",
          Params().add(m.nas).add(m.acct_session_id).add(m.outcome).add(static_cast<std::int64_t>(m.at)).add(m.ended));
    }
  });
}

std::vector<bool> PostgresLedger::claim_radius_sessions(const std::vector<RadiusSessionClaim>& sessions,
                                                       const std::string& claim) {
  if (sessions.empty()) return {};
  return write([&](Connection& db) {
    std::vector<bool> taken;
    taken.reserve(sessions.size());
    // One statement per session, atomic under the UNIQUE (nas, acct_session_id) constraint:
    // of two nodes claiming at once, the second waits for the first's row lock, then finds
    // the claim already set and updates (returns) nothing.
    for (const RadiusSessionClaim& c : sessions) {
      const Result r = db.exec(
          "INSERT INTO radius_sessions AS s (serial, nas, acct_session_id, calling_station_id, user_name, started_at, "
          "updated_at, dynauth_claim) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) "
          "ON CONFLICT (nas, acct_session_id) DO UPDATE SET dynauth_claim = excluded.dynauth_claim "
          "WHERE s.dynauth_claim <> excluded.dynauth_claim RETURNING id",
          Params()
              .add(c.serial)
              .add(c.nas)
              .add(c.acct_session_id)
              .add(c.calling_station_id)
              .add(c.user_name)
              .add(static_cast<std::int64_t>(c.at))
              .add(claim));
      taken.push_back(r.rows() == 1);
    }
    return taken;
  });
}

std::size_t PostgresLedger::stop_radius_sessions_of_nas(const std::string& nas, const std::string& nas_address,
                                                        UnixTime at) {
  return write([&](Connection& db) {
    return db
        .exec(
            "UPDATE radius_sessions SET stopped_at = $3, updated_at = greatest(updated_at, $3) "
            "WHERE nas = $1 AND stopped_at IS NULL AND ($2 = '' OR nas_address = '' OR nas_address = $2)",
            Params().add(nas).add(nas_address).add(static_cast<std::int64_t>(at)))
        .affected();
  });
}

std::size_t PostgresLedger::prune_radius_sessions(UnixTime stopped_before, std::size_t max_rows) {
  return write([&](Connection& db) {
    std::size_t deleted =
        db.exec("DELETE FROM radius_sessions WHERE stopped_at IS NOT NULL AND stopped_at < $1",
                Params().add(static_cast<std::int64_t>(stopped_before)))
            .affected();
    // Past the row bound, the stopped sessions that stopped first go.
    deleted += db.exec(
                     "DELETE FROM radius_sessions WHERE id IN (SELECT id FROM radius_sessions WHERE stopped_at IS "
                     "NOT NULL ORDER BY stopped_at, id LIMIT greatest(0, (SELECT count(*) FROM radius_sessions) - $1))",
                     Params().add(detail::clamp_count(max_rows)))
                   .affected();
    return deleted;
  });
}

}  // namespace portcullis::ca::postgres
