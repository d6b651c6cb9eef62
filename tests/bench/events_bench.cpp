// bench_events: filtered queries of the decision events at scale.
//
//   bench_events [--count N] [--db PATH] [--devices D] [--append A]
//
// 1. Fills a ledger with N events (default 5,000,000) through EventStore::append_events,
//    10,000 a batch (the writer's own path, one transaction each): D devices (default
//    50,000), each with its own MAC and serial, 20 NASes, times spread over 30 days.
//    An existing --db with events is reused as is (e.g. one filled faster in bulk with the
//    sqlite3 shell and synchronous=OFF, as docs/events.md shows).
// 1b. --append A: A more events through append_events in batches of 500, the writer's
//    batch at load, timed as 500 a second up to now, on top of what is there: the rate
//    the writer can sustain.
//    One event in 200 is a SCEP enrollment.
// 2. Times the admin API's queries (newest 100 first) with random keys, 200 each: by
//    device, MAC, serial, NAS, device + kind + outcome, since 1 h, kind scep since 7 d,
//    kind scep + outcome reject, CN, and a page deep in one device's history; median and
//    worst in ms.
#include "ca/ledger/ledger.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace portcullis::ca;
using Clock = std::chrono::steady_clock;

std::string device_name(std::size_t i) { return "device-" + std::to_string(i); }
std::string mac_of(std::size_t i) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "02:00:%02x:%02x:%02x:%02x", static_cast<unsigned>((i >> 24) & 0xff),
                static_cast<unsigned>((i >> 16) & 0xff), static_cast<unsigned>((i >> 8) & 0xff),
                static_cast<unsigned>(i & 0xff));
  return buf;
}
std::string serial_of(std::size_t i) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%032zX", i * 2654435761u + 17);
  return buf;
}

// One event in 200 is a SCEP enrollment (issued, or refused for a used challenge): the
// few rows `--kind scep` must find among the RADIUS conversations.
void as_scep(Event& e, std::size_t n) {
  e.kind = "scep";
  const bool refused = n % 400 == 399;
  e.outcome = refused ? "reject" : "issued";
  e.reason = refused ? "challenge_used" : "ok";
  e.detail = refused ? "badRequest: challenge already used" : "PKCSReq";
  e.cn = e.device;
  e.nas.clear();
  e.mac.clear();
  e.ssid.clear();
  e.user_name.clear();
  e.tls_version.clear();
  e.rule.clear();
  e.duration_ms.reset();
}

// `count` events with times spread evenly over the `span` seconds before `now`.
void fill(Ledger& ledger, std::size_t count, std::size_t devices, UnixTime now, UnixTime span,
          std::size_t batch_size = 10000) {
  std::mt19937_64 rng(42);
  const char* reasons[] = {"ok", "ok", "ok", "ok", "revoked", "expired", "tls_alert:unknown_ca", "unknown_issuer"};
  std::vector<Event> batch;
  const auto t0 = Clock::now();
  for (std::size_t n = 0; n < count; ++n) {
    const std::size_t d = rng() % devices;
    Event e;
    // Oldest first, as the writer appends them.
    e.at = now - span + static_cast<UnixTime>(static_cast<double>(n) * static_cast<double>(span) / static_cast<double>(count));
    e.kind = "radius";
    e.reason = reasons[rng() % 8];
    e.outcome = e.reason == std::string("ok") ? "accept" : "reject";
    e.detail = "EAP-TLS full handshake, rule default, Session-Timeout 86400 s";
    e.nas = "wlc-" + std::to_string(rng() % 20);
    e.nas_ip = "192.0.2." + std::to_string(rng() % 20);
    e.mac = mac_of(d);
    e.user_name = "anonymous@example.net";
    e.ssid = "corp-wifi";
    e.serial = serial_of(d);
    e.device = device_name(d);
    e.tls_version = "TLSv1.3";
    e.rule = "default";
    e.duration_ms = static_cast<std::int64_t>(rng() % 200);
    if (n % 200 == 199) as_scep(e, n);
    batch.push_back(std::move(e));
    if (batch.size() == batch_size) {
      ledger.append_events(batch);
      batch.clear();
    }
  }
  ledger.append_events(batch);
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("appended %zu events in %.1f s (%.0f/s, batches of %zu)\n", count, s, static_cast<double>(count) / s,
              batch_size);
}

template <class MakeFilter>
void time_query(Ledger& ledger, const char* what, MakeFilter make) {
  std::vector<double> ms;
  std::size_t rows = 0;
  for (int i = 0; i < 200; ++i) {
    const EventFilter f = make(i);
    const auto t0 = Clock::now();
    rows += ledger.events(f).size();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%-34s median %7.3f ms  max %7.3f ms  (%.0f rows each)\n", what, ms[ms.size() / 2], ms.back(),
              static_cast<double>(rows) / 200.0);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 5000000, devices = 50000, append = 0;
  std::string db = "/tmp/bench_events.db";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--count") count = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--devices") devices = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--db") db = argv[i + 1];
    else if (a == "--append") append = std::strtoull(argv[i + 1], nullptr, 10);
  }
  const UnixTime now = static_cast<UnixTime>(std::time(nullptr));
  auto ledger = open_sqlite_ledger(db);
  EventFilter probe;
  probe.limit = 1;
  if (ledger->events(probe).empty()) fill(*ledger, count, devices, now, 30 * 86400);
  // As a busy service writes them: 500 decisions a second, the writer's batch each.
  if (append > 0) fill(*ledger, append, devices, now, static_cast<UnixTime>(std::max<std::size_t>(1, append / 500)), 500);
  std::printf("events file %.0f MiB\n", static_cast<double>(std::filesystem::file_size(db)) / (1 << 20));

  std::mt19937_64 rng(7);
  const auto any = [&] { return rng() % devices; };
  time_query(*ledger, "device", [&](int) { EventFilter f; f.device = device_name(any()); return f; });
  time_query(*ledger, "mac", [&](int) { EventFilter f; f.mac = mac_of(any()); return f; });
  time_query(*ledger, "serial", [&](int) { EventFilter f; f.serial = serial_of(any()); return f; });
  time_query(*ledger, "nas", [&](int i) { EventFilter f; f.nas = "wlc-" + std::to_string(i % 20); return f; });
  time_query(*ledger, "device + kind + outcome=reject", [&](int) {
    EventFilter f;
    f.device = device_name(any());
    f.kind = "radius";
    f.outcome = "reject";
    return f;
  });
  time_query(*ledger, "since 1h", [&](int) { EventFilter f; f.since = now - 3600; return f; });
  time_query(*ledger, "nas + outcome=reject + since 1d", [&](int i) {
    EventFilter f;
    f.nas = "wlc-" + std::to_string(i % 20);
    f.outcome = "reject";
    f.since = now - 86400;
    return f;
  });
  time_query(*ledger, "kind=scep + since 7d", [&](int) {
    EventFilter f;
    f.kind = "scep";
    f.since = now - 7 * 86400;
    return f;
  });
  time_query(*ledger, "kind=scep + outcome=reject", [&](int) {
    EventFilter f;
    f.kind = "scep";
    f.outcome = "reject";
    return f;
  });
  time_query(*ledger, "cn (why's SCEP lookup)", [&](int) { EventFilter f; f.cn = device_name(any()); return f; });
  time_query(*ledger, "device, offset 50", [&](int) {
    EventFilter f;
    f.device = device_name(any());
    f.offset = 50;
    return f;
  });
  return 0;
}
