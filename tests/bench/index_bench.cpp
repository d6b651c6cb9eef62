// bench_index: start-up and lookup cost of the identity/revocation index at scale.
//
//   bench_index [--count N] [--db PATH] [--der-bytes B]
//
// 1. Fills a SQLite ledger with N synthetic certificates. The schema comes from
//    open_sqlite_ledger; the rows are bulk-inserted straight through SQLite in one
//    transaction with synchronous=OFF (a bench-only shortcut: record_issuance syncs every
//    commit and would measure the disk, not the index). An existing --db with
//    certificates is reused as is.
// 2. Measures the real start-up path, IdentityIndex::load(ledger), its RSS growth and the
//    index's own estimate of its size.
// 3. Measures by_serial over 1,000,000 lookups (90% hits, 10% misses, shuffled): one
//    thread, then every hardware thread; and per-lookup latency (median, p99).
#include "ca/identity_index.hpp"
#include "ca/hex.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/serial_text.hpp"
#include "ca/ledger/sqlite_db.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace portcullis::ca;
using Clock = std::chrono::steady_clock;
using Serial = std::array<std::uint8_t, 16>;

constexpr std::size_t kLookups = 1'000'000;
constexpr std::int64_t kNow = 1'750'000'000;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

std::string hex(const std::uint8_t* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 0xF]);
  }
  return out;
}

Serial random_serial(std::mt19937_64& rng) {
  Serial s{};
  for (auto& b : s) b = static_cast<std::uint8_t>(rng());
  s[0] = static_cast<std::uint8_t>(1 + s[0] % 0x7F);  // positive, no leading zero octet
  return s;
}

// Inserts `count` certificates over 1,000 devices (1% disabled); 1% of the certificates
// revoked, 5% expired.
void fill(const std::string& path, std::size_t count, std::size_t der_bytes, std::mt19937_64& rng) {
  open_sqlite_ledger(path).reset();  // creates and migrates the schema
  auto db = sqlite::Connection::open(path, false);
  db.exec("PRAGMA synchronous = OFF");
  // Random serials and fingerprints land all over two B-tree indexes: give the bulk
  // insert a 256 MiB page cache instead of the default 2 MiB.
  db.exec("PRAGMA cache_size = -262144");
  sqlite::Transaction tx(db);
  constexpr int kDevices = 1000;
  {
    auto insert = db.prepare("INSERT INTO devices (name, enabled, created_at) VALUES (?1, ?2, ?3)");
    for (int i = 1; i <= kDevices; ++i) {
      insert.bind(1, "bench-device-" + std::to_string(i)).bind(2, std::int64_t{i % 100 == 0 ? 0 : 1}).bind(3, kNow);
      insert.run();
      insert.reset();
    }
  }
  std::vector<std::uint8_t> der(der_bytes);
  for (auto& b : der) b = static_cast<std::uint8_t>(rng());
  auto insert = db.prepare(
      "INSERT INTO certificates (serial, device_id, profile, subject, sans, sha256_fingerprint, not_before, not_after, "
      "issued_at, revoked_at, revocation_reason, der) VALUES (?1, ?2, 'device', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  for (std::size_t i = 0; i < count; ++i) {
    const Serial serial = random_serial(rng);
    std::array<std::uint8_t, 32> fingerprint{};
    for (auto& b : fingerprint) b = static_cast<std::uint8_t>(rng());
    const auto device = static_cast<std::int64_t>(1 + i % kDevices);
    const std::string serial_hex = hex(serial.data(), serial.size());
    const bool expired = i % 20 == 7;
    insert.bind(1, serial_hex)
        .bind(2, device)
        .bind(3, "CN=bench-device-" + std::to_string(device) + ",O=Portcullis Bench")
        .bind(4, "[\"DNS:bench-device-" + std::to_string(device) + ".example\"]")
        .bind(5, hex(fingerprint.data(), fingerprint.size()))
        .bind(6, kNow - 86'400)
        .bind(7, expired ? kNow - 3600 : kNow + 365 * 86'400)
        .bind(8, kNow - 86'400);
    if (i % 100 == 3) insert.bind(9, kNow - 60).bind(10, std::int64_t{1});
    der[0] = static_cast<std::uint8_t>(i);  // distinct blobs, like real certificates
    insert.bind_blob(11, der);
    insert.run();
    insert.reset();
  }
  tx.commit();
}

std::vector<Serial> existing_serials(Ledger& ledger) {
  std::vector<Serial> serials;
  ledger.for_each_certificate([&](const CertificateRecord& r) {
    if (r.serial_hex.size() != 32) return;  // the bench's own rows are 16 octets
    Serial s{};
    if (from_hex(r.serial_hex, s)) serials.push_back(s);
  });
  return serials;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 1'000'000;
  std::size_t der_bytes = 700;  // a typical P-256 device certificate is 600-900 bytes
  std::string db_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--count" && i + 1 < argc) {
      count = std::stoul(argv[++i]);
    } else if (arg == "--db" && i + 1 < argc) {
      db_path = argv[++i];
    } else if (arg == "--der-bytes" && i + 1 < argc) {
      der_bytes = std::stoul(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_index [--count N] [--db PATH] [--der-bytes B]\n");
      return 2;
    }
  }
  std::filesystem::path temp_dir;
  if (db_path.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "portcullis-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    temp_dir = pattern;
    db_path = (temp_dir / "ledger.db").string();
  }

  try {
    std::mt19937_64 rng(20240601);       // the ledger's serials
    std::mt19937_64 query_rng(19700101);  // the workload; a different stream, so misses miss
    std::vector<Serial> serials;
    double fill_s = 0;
    bool reused = false;
    {
      auto probe = open_sqlite_ledger(db_path);
      reused = probe->certificate_count() > 0;
      if (reused) serials = existing_serials(*probe);
    }
    if (!reused) {
      // Filled in a child process: the bulk insert's 256 MiB page cache, once freed,
      // would stay resident in this process and hide the index's RSS growth.
      const auto start = Clock::now();
      const pid_t child = ::fork();
      if (child < 0) throw std::runtime_error("fork failed");
      if (child == 0) {
        try {
          fill(db_path, count, der_bytes, rng);
          ::_exit(0);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "bench_index: fill: %s\n", e.what());
          ::_exit(1);
        }
      }
      int status = 0;
      if (::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("filling the ledger failed");
      }
      fill_s = seconds_since(start);
      auto ledger = open_sqlite_ledger(db_path);
      serials = existing_serials(*ledger);
    }

    // The lookup workload, built before the RSS baseline so it is not counted.
    std::vector<Serial> queries;
    queries.reserve(kLookups);
    if (serials.empty()) throw std::runtime_error("the ledger holds no 16-octet serials to look up");
    std::uniform_int_distribution<std::size_t> pick(0, serials.size() - 1);
    for (std::size_t i = 0; i < kLookups; ++i) {
      queries.push_back(i % 10 == 9 ? random_serial(query_rng) : serials[pick(query_rng)]);
    }
    std::shuffle(queries.begin(), queries.end(), query_rng);
    std::vector<std::uint32_t> latencies(kLookups);

    const auto open_start = Clock::now();
    auto ledger = open_sqlite_ledger(db_path);
    const double open_s = seconds_since(open_start);

    IdentityIndex index;
    const long rss_before = rss_kib();
    const auto load_start = Clock::now();
    index.load(*ledger);
    const double load_s = seconds_since(load_start);
    const long rss_after = rss_kib();
    const IndexStats stats = index.stats();

    // Throughput, one thread.
    std::array<std::size_t, 6> verdicts{};
    const auto one_start = Clock::now();
    for (const auto& q : queries) ++verdicts[static_cast<std::size_t>(index.by_serial(q, kNow).verdict)];
    const double one_s = seconds_since(one_start);

    // Throughput, every hardware thread at once (readers share the lock).
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    std::vector<std::size_t> good(threads, 0);
    const auto many_start = Clock::now();
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (const auto& q : queries) good[t] += index.by_serial(q, kNow).verdict == IdentityVerdict::good;
      });
    }
    for (auto& th : pool) th.join();
    const double many_s = seconds_since(many_start);

    // Latency, one lookup at a time (includes ~20-30 ns of clock reads).
    volatile std::uint64_t sink = 0;
    for (std::size_t i = 0; i < kLookups; ++i) {
      const auto t0 = Clock::now();
      const Identity id = index.by_serial(queries[i], kNow);
      const auto t1 = Clock::now();
      latencies[i] = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
      sink = sink + static_cast<std::uint64_t>(id.device_id);
    }
    std::sort(latencies.begin(), latencies.end());

    const double n = static_cast<double>(stats.certificates);
    std::printf("bench_index: %zu certificates, ledger %s\n", stats.certificates, db_path.c_str());
    if (reused) {
      std::printf("  %-44s reused the rows already in --db\n", "ledger fill");
    } else {
      std::printf("  %-44s %8.1f s   (bulk SQL insert, synchronous=OFF, %zu-byte DER; not the issuance path)\n",
                  "ledger fill", fill_s, der_bytes);
    }
    std::printf("  %-44s %8.3f s\n", "open_sqlite_ledger (pragmas, schema check)", open_s);
    std::printf("  %-44s %8.3f s   (%.0f rows/s, warm page cache)\n", "IdentityIndex::load (start-up)", load_s, n / load_s);
    std::printf("  %-44s %8.1f MiB\n", "RSS growth during load (VmRSS)", static_cast<double>(rss_after - rss_before) / 1024.0);
    std::printf("  %-44s %8.1f MiB   (%.0f bytes/certificate)\n", "index estimate (stats().approx_bytes)",
                static_cast<double>(stats.approx_bytes) / (1024.0 * 1024.0), static_cast<double>(stats.approx_bytes) / n);
    std::printf("  %-44s %8.2f M/s   (%zu lookups, 90%% hits)\n", "by_serial, 1 thread", kLookups / one_s / 1e6, kLookups);
    std::printf("  %-44s %8.2f M/s   (%u threads x %zu)\n", "by_serial, all threads", threads * kLookups / many_s / 1e6,
                threads, kLookups);
    std::printf("  %-44s %8u ns  (p99 %u ns, max %u ns)\n", "by_serial latency, median", latencies[kLookups / 2],
                latencies[kLookups * 99 / 100], latencies.back());
    std::printf("  verdicts: good %zu, unknown %zu, revoked %zu, expired %zu, device_disabled %zu\n",
                verdicts[static_cast<std::size_t>(IdentityVerdict::good)],
                verdicts[static_cast<std::size_t>(IdentityVerdict::unknown)],
                verdicts[static_cast<std::size_t>(IdentityVerdict::revoked)],
                verdicts[static_cast<std::size_t>(IdentityVerdict::expired)],
                verdicts[static_cast<std::size_t>(IdentityVerdict::device_disabled)]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_index: %s\n", e.what());
    if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);
    return 1;
  }
  if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);
  return 0;
}
