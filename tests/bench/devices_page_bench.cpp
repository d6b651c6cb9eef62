// bench_devices_page: what the console's devices page and overview cost at scale.
//
//   bench_devices_page [--devices N] [--events E] [--event-days D] [--db PATH] [--runs R]
//
// 1. Fills a fresh SQLite ledger (default /tmp/bench_devices.db; an existing one is reused)
//    with N devices (default 100,000), each in one of 20 groups (every tenth also in
//    "byod") with one certificate, an accounting session for every tenth (its
//    Calling-Station-Id spelt as a NAS sends it, "02-00-…"), in one transaction through
//    the sqlite3 API (the ledger's own path would sync once per issuance); then E decision
//    events (default 1,000,000) through EventStore::append_events, spread over the last D
//    days (default 30; 1 puts every one in the overview's window).
// 2. Times what GET /api/v1/devices runs (list_devices + count_devices, page of 100) for
//    each filter, and what GET /api/v1/overview runs (summarize_events over 24 h), R times
//    each (default 50) with random keys: median and p99 in ms.
#include "ca/ledger/ledger.hpp"
#include "ca/ledger/sqlite_db.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace portcullis::ca;
using Clock = std::chrono::steady_clock;

std::string hex_of(std::size_t i, int width) {
  char buf[65];
  std::snprintf(buf, sizeof buf, "%0*zX", width, i * 2654435761u + 17);
  return buf;
}
std::string serial_of(std::size_t i) { return hex_of(i, 32); }
// Normalised and as a NAS spells it in accounting (RFC 3580 §3.21).
std::string mac_of(std::size_t i, char sep = ':') {
  char buf[18];
  std::snprintf(buf, sizeof buf, "02%c00%c%02x%c%02x%c%02x%c%02x", sep, sep, static_cast<unsigned>((i >> 24) & 0xff), sep,
                static_cast<unsigned>((i >> 16) & 0xff), sep, static_cast<unsigned>((i >> 8) & 0xff), sep,
                static_cast<unsigned>(i & 0xff));
  std::string s = buf;
  if (sep == '-')
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void seed_devices(const std::string& path, std::size_t devices, UnixTime now) {
  auto db = sqlite::Connection::open(path, false);
  const auto t0 = Clock::now();
  db.exec("BEGIN");
  auto device = db.prepare("INSERT INTO devices (id, name, display_name, owner, enabled, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  auto group = db.prepare("INSERT INTO device_groups (device_id, name) VALUES (?1, ?2)");
  auto cert = db.prepare(
      "INSERT INTO certificates (serial, device_id, profile, subject, sans, sha256_fingerprint, not_before, not_after, "
      "issued_at, der) VALUES (?1, ?2, 'device', ?3, '[]', ?4, ?5, ?6, ?5, x'3000')");
  auto session = db.prepare(
      "INSERT INTO radius_sessions (serial, nas, acct_session_id, calling_station_id, user_name, started_at, updated_at) "
      "VALUES (?1, ?2, ?3, ?4, 'anonymous@example.net', ?5, ?5)");
  for (std::size_t i = 1; i <= devices; ++i) {
    const auto id = static_cast<std::int64_t>(i);
    const std::string name = "device-" + std::to_string(i);
    device.reset();
    device.bind(1, id).bind(2, name).bind(3, "Laptop " + std::to_string(i))
        .bind(4, "user-" + std::to_string(i % 20000) + "@example.org").bind(5, std::int64_t{i % 50 != 0})
        .bind(6, static_cast<std::int64_t>(now - 86400));
    device.run();
    for (const std::string& g : {"group-" + std::to_string(i % 20), std::string(i % 10 == 0 ? "byod" : "")}) {
      if (g.empty()) continue;
      group.reset();
      group.bind(1, id).bind(2, g);
      group.run();
    }
    cert.reset();
    // Spread over a year of validity, so about a twelfth expire within 30 days.
    const UnixTime not_after = now + static_cast<UnixTime>(i % 365) * 86400;
    cert.bind(1, serial_of(i)).bind(2, id).bind(3, "CN=" + name).bind(4, hex_of(i, 64))
        .bind(5, static_cast<std::int64_t>(not_after - 365 * 86400)).bind(6, static_cast<std::int64_t>(not_after));
    cert.run();
    if (i % 10 == 0) {
      session.reset();
      session.bind(1, serial_of(i)).bind(2, "wlc-" + std::to_string(i % 20)).bind(3, "acct-" + std::to_string(i))
          .bind(4, mac_of(i + 1000000, '-')).bind(5, static_cast<std::int64_t>(now - 600));
      session.run();
    }
  }
  db.exec("COMMIT");
  std::printf("seeded %zu devices (each with a certificate) in %.1f s\n", devices,
              std::chrono::duration<double>(Clock::now() - t0).count());
}

void seed_events(Ledger& ledger, std::size_t count, std::size_t devices, UnixTime now, int days) {
  std::mt19937_64 rng(42);
  const char* reasons[] = {"ok", "ok", "ok", "ok", "revoked", "expired", "tls_alert:unknown_ca", "unknown_issuer"};
  std::vector<Event> batch;
  const auto t0 = Clock::now();
  const double span = days * 86400.0;
  for (std::size_t n = 0; n < count; ++n) {
    const std::size_t d = 1 + rng() % devices;
    Event e;
    e.at = now - static_cast<UnixTime>(span) + static_cast<UnixTime>(static_cast<double>(n) * span / static_cast<double>(count));
    e.kind = n % 200 == 199 ? "scep" : "radius";
    e.reason = reasons[rng() % 8];
    e.outcome = e.kind == "scep" ? "issued" : (e.reason == std::string("ok") ? "accept" : "reject");
    e.nas = "wlc-" + std::to_string(rng() % 20);
    e.mac = mac_of(d);
    e.serial = serial_of(d);
    e.device = "device-" + std::to_string(d);
    batch.push_back(std::move(e));
    if (batch.size() == 10000) {
      ledger.append_events(batch);
      batch.clear();
    }
  }
  ledger.append_events(batch);
  std::printf("appended %zu events over %d day(s) in %.1f s\n", count, days,
              std::chrono::duration<double>(Clock::now() - t0).count());
}

void time_it(const char* what, int runs, const std::function<std::size_t(int)>& run) {
  std::vector<double> ms;
  std::size_t rows = 0;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    rows += run(i);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const std::size_t p99 = std::min(ms.size() - 1, static_cast<std::size_t>(static_cast<double>(ms.size()) * 0.99));
  std::printf("%-30s median %8.2f ms  p99 %8.2f ms  (%zu rows/total each)\n", what, ms[ms.size() / 2], ms[p99],
              rows / static_cast<std::size_t>(runs));
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t devices = 100000, events = 1000000;
  int days = 30, runs = 50;
  std::string db = "/tmp/bench_devices.db";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--devices") devices = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--events") events = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--event-days") days = std::atoi(argv[i + 1]);
    else if (a == "--db") db = argv[i + 1];
    else if (a == "--runs") runs = std::atoi(argv[i + 1]);
  }
  const UnixTime now = static_cast<UnixTime>(std::time(nullptr));
  const bool fresh = !std::filesystem::exists(db);
  auto ledger = open_sqlite_ledger(db);
  if (fresh) {
    seed_devices(db, devices, now);
    seed_events(*ledger, events, devices, now, days);
  }
  std::printf("ledger file %.0f MiB\n", static_cast<double>(std::filesystem::file_size(db)) / (1 << 20));

  std::mt19937_64 rng(7);
  const auto any = [&] { return 1 + rng() % devices; };
  // What GET /api/v1/devices runs: the page and the count of every match.
  const auto page = [&](DeviceFilter f) {
    f.limit = 100;
    const std::size_t listed = ledger->list_devices(f).size();
    return listed + ledger->count_devices(f);
  };
  time_it("devices, no filter, page 1", runs, [&](int) { return page({}); });
  time_it("devices, search (owner)", runs, [&](int) {
    DeviceFilter f;
    f.search = "user-" + std::to_string(any() % 20000) + "@";
    return page(f);
  });
  time_it("devices, search (no match)", runs, [&](int) {
    DeviceFilter f;
    f.search = "zz-nobody";
    return page(f);
  });
  time_it("devices, group", runs, [&](int) {
    DeviceFilter f;
    f.group = "group-" + std::to_string(any() % 20);
    return page(f);
  });
  time_it("devices, group + enabled", runs, [&](int) {
    DeviceFilter f;
    f.group = "byod";
    f.enabled = true;
    return page(f);
  });
  time_it("devices, mac (events)", runs, [&](int) {
    DeviceFilter f;
    f.mac = mac_of(any());
    return page(f);
  });
  time_it("devices, mac (sessions)", runs, [&](int) {
    DeviceFilter f;
    f.mac = mac_of(any() / 10 * 10 + 1000000);
    return page(f);
  });
  time_it("devices, serial", runs, [&](int) {
    DeviceFilter f;
    f.serial = serial_of(any());
    return page(f);
  });
  time_it("devices, offset 99,900", runs, [&](int) {
    DeviceFilter f;
    f.offset = devices > 100 ? devices - 100 : 0;
    return page(f);
  });
  // What GET /api/v1/overview runs against the ledger (the index's census and the held
  // requests are in memory or tiny).
  time_it("overview, events of 24 h", runs, [&](int) {
    const EventSummary s = ledger->summarize_events(now - 86400);
    return s.radius_per_minute.size() + s.rejects.size();
  });
  return 0;
}
