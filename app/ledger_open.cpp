#include "app/ledger_open.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <stdexcept>

namespace portcullis::app {
std::string read_ledger_password(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read the ledger password_file " + file);
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) throw std::runtime_error("the ledger password_file " + file + " is empty");
  return password;
}

ca::PostgresLedgerOptions postgres_options(const LedgerSettings& settings) {
  ca::PostgresLedgerOptions options;
  options.url = settings.url;
  options.pool_size = static_cast<std::size_t>(settings.pool_size);
  if (!settings.password_file.empty()) options.password = read_ledger_password(settings.password_file);
  return options;
}

std::unique_ptr<ca::Ledger> open_ledger(const LedgerSettings& settings, ca::CommitObserver* commits) {
  if (settings.backend != "postgresql") return ca::open_sqlite_ledger(settings.path, commits);
  return ca::open_postgres_ledger(postgres_options(settings), commits);
}

std::unique_ptr<ca::ChangeFollower> follow_ledger(ca::Ledger& ledger, ca::ChangeFeed& feed, ca::IdentityIndex& index,
                                                  std::int64_t from, FollowedChanges observers) {
  ca::ChangeFollowerSettings settings;
  settings.on_revoked = std::move(observers.revoked);
  settings.on_device_change = std::move(observers.device);
  settings.on_error = [](const std::string& what) {
    spdlog::error("ledger: cannot follow other nodes' changes ({}); deciding from the identity index as it stands "
                  "until the ledger is back",
                  what);
  };
  settings.on_recovered = [](const std::string& what) { spdlog::warn("ledger: {}", what); };
  return std::make_unique<ca::ChangeFollower>(ledger, feed, index, from, std::move(settings));
}

std::string ledger_location(const LedgerSettings& settings) {
  return settings.backend == "postgresql" ? settings.url : settings.path;
}

}  // namespace portcullis::app
