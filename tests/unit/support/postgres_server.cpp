#include "tests/unit/support/postgres_server.hpp"

#include "ca/ledger/postgres_db.hpp"

#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace portcullis::testing {
namespace {

// The first line the helper prints, within `timeout`.
std::string read_line(int fd, std::chrono::seconds timeout) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("postgres.py serve: no answer in time");
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) throw std::runtime_error("poll failed");
    char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 0) throw std::runtime_error("postgres.py serve exited without starting PostgreSQL (see its stderr)");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw std::runtime_error("reading from postgres.py failed");
    }
    if (c == '\n') return line;
    line.push_back(c);
  }
}

}  // namespace

PostgresServer& PostgresServer::shared() {
  static PostgresServer server;
  return server;
}

PostgresServer::PostgresServer() {
  if (const char* state = std::getenv("PORTCULLIS_TEST_POSTGRES"); state != nullptr && state[0] != '\0') {
    std::ifstream in(state);
    if (!in) throw std::runtime_error(std::string("cannot read ") + state + " (did the postgres.start fixture run?)");
    std::string line;
    std::getline(in, line);
    adopt(line);
    return;
  }
  spawn();
}

void PostgresServer::adopt(const std::string& state) {
  const auto info = nlohmann::json::parse(state);
  port_ = info.at("port").get<int>();
  password_ = info.at("password").get<std::string>();
  socket_dir_ = info.at("socket_dir").get<std::string>();
  role_ = info.at("role").get<std::string>();
}

void PostgresServer::spawn() {
  std::array<int, 2> in{};
  std::array<int, 2> out{};
  if (::pipe2(in.data(), O_CLOEXEC) != 0 || ::pipe2(out.data(), O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::execlp("python3", "python3", PORTCULLIS_POSTGRES_PY, "serve", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  stdin_fd_ = in[1];
  std::string line;
  try {
    line = read_line(out[0], std::chrono::seconds(120));
  } catch (...) {
    ::close(out[0]);
    ::close(stdin_fd_);
    ::waitpid(pid_, nullptr, 0);
    throw;
  }
  ::close(out[0]);
  adopt(line);
}

PostgresServer::~PostgresServer() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
}

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://" + role_ + "@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

void PostgresServer::admin_exec(const std::string& database, const std::string& sql) const {
  ca::postgres::ConnectOptions options;
  options.conninfo = "host=" + socket_dir_ + " port=" + std::to_string(port_) + " user=" + role_ + " dbname=" + database;
  auto db = ca::postgres::Connection::open(options);
  db.exec(sql);
}

std::string PostgresServer::create_database() {
  const std::string name = "ledger_" + std::to_string(::getpid()) + "_" + std::to_string(++databases_);
  admin_exec("postgres", "CREATE DATABASE " + name);
  return url(name);
}

}  // namespace portcullis::testing
