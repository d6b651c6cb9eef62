// bench_index_load: a node's start-up cost of loading the in-memory identity index from
// its ledger, SQLite or PostgreSQL (run_index_load_bench.py fills both with the same
// rows and runs this once per backend, each in a fresh process so RSS is its own).
//
//   bench_index_load --sqlite PATH
//   bench_index_load --postgresql URL [--password-file FILE]
//
// Prints RESULT {"backend", "certificates", "open_s", "load_s", "rss_growth_kib"}.
#include "ca/identity_index.hpp"
#include "ca/ledger/ledger.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  std::string sqlite, postgresql, password_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--sqlite") sqlite = argv[i + 1];
    else if (arg == "--postgresql") postgresql = argv[i + 1];
    else if (arg == "--password-file") password_file = argv[i + 1];
  }
  if (sqlite.empty() == postgresql.empty() || argc % 2 == 0) {
    std::fprintf(stderr, "usage: bench_index_load --sqlite PATH | --postgresql URL [--password-file FILE]\n");
    return 2;
  }
  try {
    const auto open_start = Clock::now();
    std::unique_ptr<portcullis::ca::Ledger> ledger;
    if (!sqlite.empty()) {
      ledger = portcullis::ca::open_sqlite_ledger(sqlite);
    } else {
      portcullis::ca::PostgresLedgerOptions options;
      options.url = postgresql;
      if (!password_file.empty()) options.password = first_line(password_file);
      ledger = portcullis::ca::open_postgres_ledger(options);
    }
    const double open_s = seconds_since(open_start);
    portcullis::ca::IdentityIndex index;
    const long rss_before = rss_kib();
    const auto load_start = Clock::now();
    index.load(*ledger);
    const double load_s = seconds_since(load_start);
    const long rss_after = rss_kib();
    std::printf("RESULT {\"backend\": \"%s\", \"certificates\": %zu, \"open_s\": %.4f, \"load_s\": %.4f, "
                "\"rss_growth_kib\": %ld}\n",
                sqlite.empty() ? "postgresql" : "sqlite", index.stats().certificates, open_s, load_s,
                rss_after - rss_before);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_index_load: %s\n", e.what());
    return 1;
  }
  return 0;
}
