#include "app/ledger_open.hpp"

#include <fstream>
#include <stdexcept>

namespace portcullis::app {
namespace {

std::string read_password(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read the ledger password_file " + file);
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) throw std::runtime_error("the ledger password_file " + file + " is empty");
  return password;
}

}  // namespace

std::unique_ptr<ca::Ledger> open_ledger(const LedgerSettings& settings, ca::CommitObserver* commits) {
  if (settings.backend != "postgresql") return ca::open_sqlite_ledger(settings.path, commits);
  ca::PostgresLedgerOptions options;
  options.url = settings.url;
  if (!settings.password_file.empty()) options.password = read_password(settings.password_file);
  return ca::open_postgres_ledger(options, commits);
}

std::string ledger_location(const LedgerSettings& settings) {
  return settings.backend == "postgresql" ? settings.url : settings.path;
}

}  // namespace portcullis::app
