// The PostgreSQL ledger: decision events (ca/event.hpp).
#include "ca/ledger/event_counts.hpp"
#include "ca/ledger/ledger_rules.hpp"
#include "ca/ledger/postgres_ledger.hpp"

#include <algorithm>

namespace portcullis::ca::postgres {
namespace {

constexpr const char* kEventColumns =
    "id, at, kind, outcome, reason, detail, nas, nas_ip, mac, user_name, ssid, serial, device, issuer, tls_version, "
    "rule, duration_ms, cn, transaction_id, count";
constexpr int kInsertedColumns = 19;   // all but id
// Rows per INSERT: one statement and one round trip for a writer's batch, well below
// the protocol's 65535 parameters per statement.
constexpr std::size_t kRowsPerInsert = 1000;

Event event_from(const Result& r, int i) {
  Event e;
  e.id = r.int64(i, 0);
  e.at = r.int64(i, 1);
  e.kind = r.text(i, 2);
  e.outcome = r.text(i, 3);
  e.reason = r.text(i, 4);
  e.detail = r.text(i, 5);
  e.nas = r.text(i, 6);
  e.nas_ip = r.text(i, 7);
  e.mac = r.text(i, 8);
  e.user_name = r.text(i, 9);
  e.ssid = r.text(i, 10);
  e.serial = r.text(i, 11);
  e.device = r.text(i, 12);
  e.issuer = r.text(i, 13);
  e.tls_version = r.text(i, 14);
  e.rule = r.text(i, 15);
  e.duration_ms = r.optional_int64(i, 16);
  e.cn = r.text(i, 17);
  e.transaction_id = r.text(i, 18);
  e.count = r.int64(i, 19);
  return e;
}

void add_event(Params& p, const Event& e) {
  p.add(static_cast<std::int64_t>(e.at))
      .add(e.kind)
      .add(e.outcome)
      .add(e.reason)
      .add(e.detail)
      .add(e.nas)
      .add(e.nas_ip)
      .add(e.mac)
      .add(e.user_name)
      .add(e.ssid)
      .add(e.serial)
      .add(e.device)
      .add(e.issuer)
      .add(e.tls_version)
      .add(e.rule)
      .add(e.duration_ms)
      .add(e.cn)
      .add(e.transaction_id)
      .add(e.count);
}

// INSERT … VALUES ($1, …, $19), ($20, …), … for `rows` rows. Identity values follow the
// order of the rows, so ids are assigned in order.
std::string insert_sql(std::size_t rows) {
  std::string sql =
      "INSERT INTO events (at, kind, outcome, reason, detail, nas, nas_ip, mac, user_name, ssid, serial, device, "
      "issuer, tls_version, rule, duration_ms, cn, transaction_id, count) VALUES ";
  int n = 0;
  for (std::size_t row = 0; row < rows; ++row) {
    sql += row == 0 ? "(" : ", (";
    for (int c = 0; c < kInsertedColumns; ++c) sql += (c == 0 ? "$" : ", $") + std::to_string(++n);
    sql += ")";
  }
  return sql;
}

}  // namespace

void PostgresLedger::append_events(const std::vector<Event>& events) {
  if (events.empty()) return;
  for (const Event& e : events) {
    if (e.kind.empty() || e.outcome.empty()) throw LedgerConflict("an event needs a kind and an outcome");
  }
  const EventCounts counts = count_events(events);
  write([&](Connection& db) {
    for (std::size_t first = 0; first < events.size(); first += kRowsPerInsert) {
      const std::size_t count = std::min(kRowsPerInsert, events.size() - first);
      Params params;
      for (std::size_t i = first; i < first + count; ++i) add_event(params, events[i]);
      db.exec(insert_sql(count), params);
    }
    // In the same transaction as the rows, and in count_events' order: nodes adding to
    // one minute lock its rows in the same order.
    for (const MinuteCount& c : counts.minutes) {
      db.exec("INSERT INTO event_counts (minute, kind, outcome, count) VALUES ($1, $2, $3, $4) "
              "ON CONFLICT (minute, kind, outcome) DO UPDATE SET count = event_counts.count + excluded.count",
              Params().add(static_cast<std::int64_t>(c.minute)).add(c.kind).add(c.outcome).add(c.count));
    }
    for (const RejectHour& c : counts.rejects) {
      db.exec("INSERT INTO reject_counts (hour, reason, nas, count) VALUES ($1, $2, $3, $4) "
              "ON CONFLICT (hour, reason, nas) DO UPDATE SET count = reject_counts.count + excluded.count",
              Params().add(static_cast<std::int64_t>(c.hour)).add(c.reason).add(c.nas).add(c.count));
    }
  });
}

std::vector<Event> PostgresLedger::events(const EventFilter& filter) {
  // Each column filter repeats its partial index's condition (`<> ''`), so the planner
  // can use that index, as in SQLite.
  std::string sql = std::string("SELECT ") + kEventColumns + " FROM events WHERE true";
  Params params;
  const auto text_filter = [&](const char* column, const std::optional<std::string>& value) {
    if (!value) return;
    params.add(*value);
    sql += std::string(" AND ") + column + " = $" + std::to_string(params.size()) + " AND " + column + " <> ''";
  };
  text_filter("device", filter.device);
  text_filter("serial", filter.serial);
  text_filter("cn", filter.cn);
  text_filter("mac", filter.mac);
  text_filter("nas", filter.nas);
  text_filter("kind", filter.kind);
  text_filter("outcome", filter.outcome);
  if (filter.since) {
    params.add(static_cast<std::int64_t>(*filter.since));
    sql += " AND at >= $" + std::to_string(params.size());
  }
  params.add(detail::clamp_count(filter.limit));
  sql += " ORDER BY at DESC, id DESC LIMIT $" + std::to_string(params.size());
  params.add(detail::clamp_count(filter.offset));
  sql += " OFFSET $" + std::to_string(params.size());
  return read([&](Connection& db) {
    const Result r = db.exec(sql, params);
    std::vector<Event> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(event_from(r, i));
    return out;
  });
}

EventSummary PostgresLedger::summarize_events(UnixTime since) {
  return read([&](Connection& db) {
    EventCounts rows;
    const Result minutes = db.exec("SELECT minute, kind, outcome, count FROM event_counts WHERE minute >= $1",
                                   Params().add(static_cast<std::int64_t>(since / 60)));
    for (int i = 0; i < minutes.rows(); ++i)
      rows.minutes.push_back({minutes.int64(i, 0), minutes.text(i, 1), minutes.text(i, 2), minutes.int64(i, 3)});
    const Result rejects = db.exec("SELECT hour, reason, nas, count FROM reject_counts WHERE hour >= $1",
                                   Params().add(static_cast<std::int64_t>(since / 3600)));
    for (int i = 0; i < rejects.rows(); ++i)
      rows.rejects.push_back({rejects.int64(i, 0), rejects.text(i, 1), rejects.text(i, 2), rejects.int64(i, 3)});
    return summarize_counts(rows);
  });
}

std::size_t PostgresLedger::prune_events(UnixTime older_than, std::size_t max_rows) {
  return write([&](Connection& db) {
    std::size_t deleted =
        db.exec("DELETE FROM events WHERE at < $1", Params().add(static_cast<std::int64_t>(older_than))).affected();
    // Beyond max_rows, the oldest by insertion go: every id above max(id) - max_rows is
    // at most max_rows rows, found without counting the table.
    deleted += db.exec("DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - $1",
                       Params().add(detail::clamp_count(max_rows)))
                   .affected();
    const auto oldest_kept = static_cast<std::int64_t>(now_unix() - kEventCountsKeptSeconds);
    db.exec("DELETE FROM event_counts WHERE minute < $1", Params().add(oldest_kept / 60));
    db.exec("DELETE FROM reject_counts WHERE hour < $1", Params().add(oldest_kept / 3600));
    // The change feed is read within seconds by every node; a day is plenty.
    db.exec("DELETE FROM portcullis_sync.changes WHERE at < $1", Params().add(now_unix() - 86400));
    return deleted;
  });
}

}  // namespace portcullis::ca::postgres
