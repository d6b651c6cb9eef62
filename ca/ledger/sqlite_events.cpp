// The SQLite ledger: decision events, table events (schema v8, v9), and the overview's
// counts, tables event_counts and reject_counts (v12).
#include "ca/ledger/event_counts.hpp"
#include "ca/ledger/sqlite_ledger.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <string>

namespace portcullis::ca::sqlite {
namespace {

constexpr const char* kEventColumns =
    "id, at, kind, outcome, reason, detail, nas, nas_ip, mac, user_name, ssid, serial, device, issuer, tls_version, "
    "rule, duration_ms, cn, transaction_id, count";

constexpr std::size_t kRowsPerInsert = 16;
constexpr int kInsertColumns = 19;

// "INSERT OR FAIL INTO events (…) VALUES (?1, …, ?19), (?20, …)" for `rows` rows
// (1..kRowsPerInsert). OR FAIL: a failing row would leave the rows before it in place, so
// SQLite keeps no statement journal (a copy of every page the statement touches) for the
// multi-row insert (https://sqlite.org/lang_conflict.html); a unit that throws is rolled
// back whole by the group commit anyway.
const std::string& insert_sql(std::size_t rows) {
  static const std::array<std::string, kRowsPerInsert> texts = [] {
    std::array<std::string, kRowsPerInsert> out;
    std::string sql =
        "INSERT OR FAIL INTO events (at, kind, outcome, reason, detail, nas, nas_ip, mac, user_name, ssid, serial, device, "
        "issuer, tls_version, rule, duration_ms, cn, transaction_id, count) VALUES ";
    for (std::size_t r = 0; r < kRowsPerInsert; ++r) {
      sql += r == 0 ? "(" : ", (";
      for (int c = 1; c <= kInsertColumns; ++c) {
        if (c > 1) sql += ", ";
        sql += "?" + std::to_string(static_cast<int>(r) * kInsertColumns + c);
      }
      sql += ")";
      out[r] = sql;
    }
    return out;
  }();
  return texts[rows - 1];
}

// Binds one event's columns after `offset` parameters, its text without a copy: the
// caller keeps `e` until the statement is reset.
void bind_event(Statement& stmt, int offset, const Event& e) {
  stmt.bind(offset + 1, static_cast<std::int64_t>(e.at))
      .bind_static(offset + 2, e.kind)
      .bind_static(offset + 3, e.outcome)
      .bind_static(offset + 4, e.reason)
      .bind_static(offset + 5, e.detail)
      .bind_static(offset + 6, e.nas)
      .bind_static(offset + 7, e.nas_ip)
      .bind_static(offset + 8, e.mac)
      .bind_static(offset + 9, e.user_name)
      .bind_static(offset + 10, e.ssid)
      .bind_static(offset + 11, e.serial)
      .bind_static(offset + 12, e.device)
      .bind_static(offset + 13, e.issuer)
      .bind_static(offset + 14, e.tls_version)
      .bind_static(offset + 15, e.rule)
      .bind(offset + 16, e.duration_ms)
      .bind_static(offset + 17, e.cn)
      .bind_static(offset + 18, e.transaction_id)
      .bind(offset + 19, e.count);
}

std::int64_t clamp(std::size_t n) {
  constexpr auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(n > max ? max : n);
}

Event event_from_row(const Statement& row) {
  Event e;
  e.id = row.column_int64(0);
  e.at = row.column_int64(1);
  e.kind = row.column_text(2);
  e.outcome = row.column_text(3);
  e.reason = row.column_text(4);
  e.detail = row.column_text(5);
  e.nas = row.column_text(6);
  e.nas_ip = row.column_text(7);
  e.mac = row.column_text(8);
  e.user_name = row.column_text(9);
  e.ssid = row.column_text(10);
  e.serial = row.column_text(11);
  e.device = row.column_text(12);
  e.issuer = row.column_text(13);
  e.tls_version = row.column_text(14);
  e.rule = row.column_text(15);
  if (!row.column_is_null(16)) e.duration_ms = row.column_int64(16);
  e.cn = row.column_text(17);
  e.transaction_id = row.column_text(18);
  e.count = row.column_int64(19);
  return e;
}

}  // namespace

void SqliteLedger::append_events(const std::vector<Event>& events) {
  if (events.empty()) return;
  for (const Event& e : events) {
    if (e.kind.empty() || e.outcome.empty()) throw LedgerConflict("an event needs a kind and an outcome");
  }
  // A unit of the group commit: when issuances are being committed, the batch shares their
  // transaction and its sync. Rows go kRowsPerInsert to a statement, whose own work (its
  // program's start and halt) is then shared by many rows: a third fewer instructions per
  // row than one statement each (docs/performance.md). The overview's counts go in the
  // same transaction, so they never disagree with the rows.
  const EventCounts counts = count_events(events);
  issuance_commits_.run([&] {
    for (std::size_t done = 0; done < events.size();) {
      const std::size_t rows = std::min(kRowsPerInsert, events.size() - done);
      // Reset when it goes out of scope, before the events bound to it without a copy go.
      auto stmt = db_.cached(insert_sql(rows).c_str());
      for (std::size_t r = 0; r < rows; ++r) bind_event(*stmt, static_cast<int>(r) * kInsertColumns, events[done + r]);
      stmt->run();
      done += rows;
    }
    for (const MinuteCount& c : counts.minutes) {
      auto stmt = db_.cached(
          "INSERT INTO event_counts (minute, kind, outcome, count) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT (minute, kind, outcome) DO UPDATE SET count = count + excluded.count");
      stmt->bind(1, static_cast<std::int64_t>(c.minute)).bind_static(2, c.kind).bind_static(3, c.outcome);
      stmt->bind(4, c.count).run();
    }
    for (const RejectHour& c : counts.rejects) {
      auto stmt = db_.cached(
          "INSERT INTO reject_counts (hour, reason, nas, count) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT (hour, reason, nas) DO UPDATE SET count = count + excluded.count");
      stmt->bind(1, static_cast<std::int64_t>(c.hour)).bind_static(2, c.reason).bind_static(3, c.nas);
      stmt->bind(4, c.count).run();
    }
  });
}

EventQuery event_query(const EventFilter& filter) {
  EventQuery q;
  q.sql = std::string("SELECT ") + kEventColumns + " FROM events WHERE 1";
  // Each column filter repeats its partial index's condition (`<> ''`), which SQLite
  // needs to see before it uses that index (https://sqlite.org/partialindex.html).
  // A filter written `+column` cannot use an index (https://sqlite.org/optoverview.html,
  // "Disqualifying Indexes"): kind and outcome take their index only when nothing
  // narrower is asked for. Without statistics the planner counts equalities, and would
  // walk every reject of every device to find one device's.
  const auto text_filter = [&](const char* column, const std::optional<std::string>& value, bool indexed) {
    if (!value) return;
    q.texts.push_back(*value);
    const std::string n = std::to_string(q.texts.size());
    if (indexed) q.sql += std::string(" AND ") + column + " = ?" + n + " AND " + column + " <> ''";
    else q.sql += std::string(" AND +") + column + " = ?" + n;
  };
  const bool narrower = filter.device || filter.serial || filter.cn || filter.mac || filter.nas;
  text_filter("device", filter.device, true);
  text_filter("serial", filter.serial, true);
  text_filter("cn", filter.cn, true);
  text_filter("mac", filter.mac, true);
  text_filter("nas", filter.nas, true);
  // RADIUS conversations are nearly all the events: kind = radius narrows nothing, and
  // the other kinds are few, fewer than any outcome's rows.
  const bool kind_indexed = !narrower && filter.kind && *filter.kind != event_kind::kRadius;
  text_filter("kind", filter.kind, kind_indexed);
  text_filter("outcome", filter.outcome, !narrower && !kind_indexed);
  q.since_index = static_cast<int>(q.texts.size()) + 1;
  if (filter.since) q.sql += " AND at >= ?" + std::to_string(q.since_index);
  q.sql += " ORDER BY at DESC, id DESC LIMIT ?" + std::to_string(q.since_index + 1) + " OFFSET ?" +
           std::to_string(q.since_index + 2);
  return q;
}

std::vector<Event> SqliteLedger::events(const EventFilter& filter) {
  const EventQuery q = event_query(filter);
  const std::string& sql = q.sql;
  const std::vector<std::string>& texts = q.texts;
  const int since_index = q.since_index;
  return read([&](Connection& db) {
    Statement stmt = db.prepare(sql);
    for (std::size_t i = 0; i < texts.size(); ++i) stmt.bind(static_cast<int>(i + 1), texts[i]);
    if (filter.since) stmt.bind(since_index, static_cast<std::int64_t>(*filter.since));
    stmt.bind(since_index + 1, clamp(filter.limit));
    stmt.bind(since_index + 2, clamp(filter.offset));
    std::vector<Event> out;
    while (stmt.step()) out.push_back(event_from_row(stmt));
    return out;
  });
}

// About four thousand rows for a busy day (event_counts.hpp); on the reader connection.
EventSummary SqliteLedger::summarize_events(UnixTime since) {
  return read([&](Connection& db) {
    EventCounts rows;
    Statement minutes = db.prepare("SELECT minute, kind, outcome, count FROM event_counts WHERE minute >= ?1");
    minutes.bind(1, static_cast<std::int64_t>(since / 60));
    while (minutes.step())
      rows.minutes.push_back({minutes.column_int64(0), minutes.column_text(1), minutes.column_text(2),
                              minutes.column_int64(3)});
    Statement rejects = db.prepare("SELECT hour, reason, nas, count FROM reject_counts WHERE hour >= ?1");
    rejects.bind(1, static_cast<std::int64_t>(since / 3600));
    while (rejects.step())
      rows.rejects.push_back({rejects.column_int64(0), rejects.column_text(1), rejects.column_text(2),
                              rejects.column_int64(3)});
    return summarize_counts(rows);
  });
}

// Retention deletes in chunks of kPruneChunkRows, each its own transaction with the writer's
// lock taken afresh: a prune over millions of rows (a lowered keep_days, a flood's
// aftermath) never holds the lock, or one WAL transaction, for the whole of it, so batches
// of events and issuances commit between its chunks.
std::size_t SqliteLedger::prune_events(UnixTime older_than, std::size_t max_rows) {
  {
    std::lock_guard lock(mutex_);
    Transaction tx(db_);
    const auto oldest_kept = static_cast<std::int64_t>(now_unix() - kEventCountsKeptSeconds);
    db_.cached("DELETE FROM event_counts WHERE minute < ?1")->bind(1, oldest_kept / 60).run();
    db_.cached("DELETE FROM reject_counts WHERE hour < ?1")->bind(1, oldest_kept / 3600).run();
    tx.commit();
  }
  std::size_t deleted = 0;
  // The oldest by time first; events_by_time finds them without a scan.
  while (true) {
    const std::size_t n = delete_events_chunk(
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ?1 ORDER BY at LIMIT ?2)",
        static_cast<std::int64_t>(older_than));
    deleted += n;
    if (n < kPruneChunkRows) break;
  }
  // Beyond max_rows, the oldest by insertion go: ids are assigned in order and rows only
  // ever leave from the old end, so every id above max(id) - max_rows is at most
  // max_rows rows, found without counting the table. The bound is fixed before the
  // chunks, so events appended meanwhile do not move it.
  const std::int64_t last = read([](Connection& db) { return db.query_int64("SELECT coalesce(max(id), 0) FROM events"); });
  const std::int64_t keep_above = last - clamp(max_rows);
  if (keep_above <= 0) return deleted;
  while (true) {
    const std::size_t n = delete_events_chunk(
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id <= ?1 ORDER BY id LIMIT ?2)", keep_above);
    deleted += n;
    if (n < kPruneChunkRows) break;
  }
  return deleted;
}

std::size_t SqliteLedger::delete_events_chunk(const char* sql, std::int64_t bound) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  auto stmt = db_.cached(sql);
  stmt->bind(1, bound).bind(2, static_cast<std::int64_t>(kPruneChunkRows));
  stmt->run();
  const auto n = static_cast<std::size_t>(sqlite3_changes(db_.handle()));
  tx.commit();
  return n;
}

}  // namespace portcullis::ca::sqlite
