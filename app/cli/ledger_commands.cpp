#include "app/cli/ledger_commands.hpp"

#include "app/cli/admin_client.hpp"
#include "app/cli/output.hpp"
#include "app/config.hpp"
#include "app/http/client.hpp"
#include "app/ledger_open.hpp"
#include "ca/authority.hpp"
#include "ca/ledger/ledger_copy.hpp"
#include "ca/x509.hpp"

#include <toml++/toml.h>
#include <unistd.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

namespace portcullis::app {
namespace {

struct MigrateArgs {
  std::string to;
  std::string password_file;
  std::size_t batch_rows = 500;
};

// A bar redrawn in place on a terminal; one line per table otherwise (a log, a pipe).
class Progress {
 public:
  explicit Progress(std::ostream& out) : out_(out), tty_(isatty(STDOUT_FILENO) == 1) {}

  void update(const std::string& table, std::int64_t done, std::int64_t total) {
    if (table == finished_) return;   // an empty table reports 0 of 0 before and after
    if (done == total) finished_ = table;
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = total == 0 ? kWidth : static_cast<int>(kWidth * done / total);
      // Redrawn when the bar grows (or a table starts or ends), not after every batch.
      if (table == drawn_table_ && filled == drawn_filled_ && done != total) return;
      drawn_table_ = table;
      drawn_filled_ = filled;
      out_ << "\r  " << std::left << std::setw(20) << table << " [" << std::string(filled, '#')
           << std::string(kWidth - filled, ' ') << "] " << done << "/" << total << std::flush;
      if (done == total) out_ << "\n";
    } else if (done == total) {
      out_ << "  copied " << table << ": " << done << " rows" << std::endl;   // seen as it happens, also in a pipe
    }
  }

 private:
  std::ostream& out_;
  const bool tty_;
  std::string finished_;
  std::string drawn_table_;
  int drawn_filled_ = -1;
};

// The node's own RA certificate serial: tells a target holding this CA's ledger already
// from one holding another CA's. Empty when it cannot be read.
std::string own_serial(const Config& config) {
  try {
    return ca::serial_hex(ca::cert_from_pem(ca::read_file(ca::CaPaths{config.ca.dir}.ra())).get());
  } catch (const std::exception&) {
    return "";
  }
}

// A node writing to the SQLite file while it is copied would lose those writes: the
// migration is for a stopped node. Its admin API answering means it runs.
void refuse_running_node(const Config& config) {
  HttpClientOptions options = admin_http_options(config);
  options.timeout = std::chrono::seconds(2);
  bool running = false;
  try {
    running = http_request(options, "GET", "/api/v1/health").status == 200;
  } catch (const std::exception&) {
  }
  if (running) {
    throw std::runtime_error("the node answers on its admin port " + std::to_string(options.port) +
                             ": stop it first (what it writes during the copy would not be copied)");
  }
}

void print_checks(std::ostream& out, const ca::LedgerCopyResult& result) {
  nlohmann::json rows = nlohmann::json::array();
  for (const ca::TableCheck& c : result.tables) {
    rows.push_back({{"table", c.table},
                    {"sqlite", std::to_string(c.source_rows)},
                    {"postgresql", std::to_string(c.target_rows)},
                    {"sha256", c.matches() ? c.source_sha256 : c.source_sha256 + " / " + c.target_sha256},
                    {"check", c.matches() ? "same" : "DIFFERENT"}});
  }
  print_table(out, rows,
              {{"TABLE", "table"}, {"SQLITE ROWS", "sqlite"}, {"POSTGRESQL ROWS", "postgresql"},
               {"CHECK", "check"}, {"SHA-256 OF THE ROWS", "sha256"}});
}

void print_config_change(std::ostream& out, const std::string& config_path, const MigrateArgs& args) {
  out << "\nThe ledger is in PostgreSQL. Keep the SQLite file as a backup, replace the [ledger] section of "
      << config_path << " with:\n\n  [ledger]\n  backend = \"postgresql\"\n  url = " << toml::value<std::string>(args.to) << "\n";
  if (args.password_file.empty())
    out << "  # password_file: none given; libpq reads PGPASSFILE or ~/.pgpass\n";
  else
    out << "  password_file = "
        << toml::value<std::string>(std::filesystem::absolute(args.password_file).lexically_normal().string()) << "\n";
  out << "\nthen start the node.\n";
}

int run_migrate(const CliContext& ctx, const MigrateArgs& args) {
  const std::string config_path = resolve_config_path(ctx.config_path);
  const Config config = load_config(config_path);
  if (config.ledger.backend != "sqlite")
    throw std::runtime_error(config_path + " already uses the PostgreSQL ledger; migrate copies an SQLite ledger");
  refuse_running_node(config);

  ca::LedgerCopyOptions options;
  options.sqlite_path = config.ledger.path;
  options.target.url = args.to;
  if (!args.password_file.empty()) options.target.password = read_ledger_password(args.password_file);
  options.batch_rows = args.batch_rows;
  options.own_serial = own_serial(config);
  Progress progress(std::cout);
  options.progress = [&](const std::string& table, std::int64_t done, std::int64_t total) {
    progress.update(table, done, total);
  };
  std::cout << "copying " << config.ledger.path << " to " << args.to << " in one transaction\n";
  const ca::LedgerCopyResult result = ca::copy_sqlite_ledger_to_postgres(options);
  std::cout << "\n";
  print_checks(std::cout, result);
  if (!result.committed) {
    std::cerr << "portcullis: the tables marked DIFFERENT do not match; nothing was written to the target\n";
    return 1;
  }
  std::cout << "\nEvery table has the same rows and checksum on both sides.\n";
  print_config_change(std::cout, config_path, args);
  return 0;
}

}  // namespace

void add_ledger_commands(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto* ledger = app.add_subcommand("ledger", "Ledger maintenance");
  ledger->require_subcommand(1);
  auto args = std::make_shared<MigrateArgs>();
  auto* migrate = ledger->add_subcommand(
      "migrate", "Copy this node's SQLite ledger into an empty PostgreSQL database (stop the node first)");
  migrate->add_option("--to", args->to, "postgresql://user@host:port/db (no password in it)")->required();
  migrate->add_option("--password-file", args->password_file,
                      "File whose first line is the PostgreSQL password (default: PGPASSFILE, ~/.pgpass)");
  migrate->add_option("--batch-rows", args->batch_rows, "Rows per INSERT")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  migrate->callback([&ctx, &action, args] { action = [&ctx, args] { return run_migrate(ctx, *args); }; });
}

}  // namespace portcullis::app
