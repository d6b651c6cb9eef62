// The PostgreSQL the ledger tests run against, from tests/integration/postgres.py (the
// helper the Python integration tests use too). Under ctest, one server for the whole run:
// the postgres.start fixture writes its state to the file named by
// PORTCULLIS_TEST_POSTGRES. Without it (a test binary run by hand), the first use starts
// `postgres.py serve`, which stops the server and removes its folder when its stdin
// closes: when this process exits, however it exits.
#pragma once

#include <string>
#include <sys/types.h>

namespace portcullis::testing {

class PostgresServer {
 public:
  // The one server of this test binary; throws std::runtime_error when it cannot start.
  static PostgresServer& shared();

  // A new empty database; returns its url (without the password).
  std::string create_database();
  std::string url(const std::string& database) const;
  const std::string& password() const { return password_; }
  // Runs SQL as the superuser over the trusted local socket.
  void admin_exec(const std::string& database, const std::string& sql) const;

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();

 private:
  PostgresServer();
  void spawn();
  void adopt(const std::string& state_json);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;   // closing it stops the server
  int port_ = 0;
  std::string password_;
  std::string socket_dir_;
  std::string role_;
  int databases_ = 0;
};

}  // namespace portcullis::testing
