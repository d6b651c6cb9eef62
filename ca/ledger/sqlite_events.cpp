// The SQLite ledger: decision events, table events (schema v8).
#include "ca/ledger/sqlite_ledger.hpp"

#include <algorithm>
#include <array>
#include <limits>
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
  // row than one statement each (docs/performance.md).
  issuance_commits_.run([&] {
    for (std::size_t done = 0; done < events.size();) {
      const std::size_t rows = std::min(kRowsPerInsert, events.size() - done);
      // Reset when it goes out of scope, before the events bound to it without a copy go.
      auto stmt = db_.cached(insert_sql(rows).c_str());
      for (std::size_t r = 0; r < rows; ++r) bind_event(*stmt, static_cast<int>(r) * kInsertColumns, events[done + r]);
      stmt->run();
      done += rows;
    }
  });
}

std::vector<Event> SqliteLedger::events(const EventFilter& filter) {
  // Each column filter repeats its partial index's condition (`<> ''`), which SQLite
  // needs to see before it uses that index (https://sqlite.org/partialindex.html).
  std::string sql = std::string("SELECT ") + kEventColumns + " FROM events WHERE 1";
  std::vector<std::string> texts;
  const auto text_filter = [&](const char* column, const std::optional<std::string>& value) {
    if (!value) return;
    texts.push_back(*value);
    const std::string n = std::to_string(texts.size());
    sql += std::string(" AND ") + column + " = ?" + n + " AND " + column + " <> ''";
  };
  text_filter("device", filter.device);
  text_filter("serial", filter.serial);
  text_filter("mac", filter.mac);
  text_filter("nas", filter.nas);
  text_filter("kind", filter.kind);
  text_filter("outcome", filter.outcome);
  const int since_index = static_cast<int>(texts.size()) + 1;
  if (filter.since) sql += " AND at >= ?" + std::to_string(since_index);
  sql += " ORDER BY at DESC, id DESC LIMIT ?" + std::to_string(since_index + 1) + " OFFSET ?" +
         std::to_string(since_index + 2);
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

std::size_t SqliteLedger::prune_events(UnixTime older_than, std::size_t max_rows) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  auto by_age = db_.cached("DELETE FROM events WHERE at < ?1");
  by_age->bind(1, static_cast<std::int64_t>(older_than));
  by_age->run();
  std::int64_t deleted = sqlite3_changes(db_.handle());
  // Beyond max_rows, the oldest by insertion go: ids are assigned in order and rows only
  // ever leave from the old end, so every id above max(id) - max_rows is at most
  // max_rows rows, found without counting the table.
  auto by_count = db_.cached("DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - ?1");
  by_count->bind(1, clamp(max_rows));
  by_count->run();
  deleted += sqlite3_changes(db_.handle());
  tx.commit();
  return static_cast<std::size_t>(deleted);
}

}  // namespace portcullis::ca::sqlite
