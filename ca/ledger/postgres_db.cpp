#include "ca/ledger/postgres_db.hpp"

#include "ca/hex.hpp"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace portcullis::ca::postgres {
namespace {

std::string field(const PGresult* r, int code) {
  const char* v = PQresultErrorField(r, code);
  return v != nullptr ? std::string(v) : std::string();
}

// libpq's messages end with a newline and may span lines (DETAIL, HINT): the first line.
std::string first_line(const char* message) {
  std::string text = message != nullptr ? message : "";
  const auto end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

std::string sql_head(std::string_view sql) { return std::string(sql.substr(0, 60)); }

}  // namespace

// --- Result ------------------------------------------------------------------------

std::string Result::text(int row, int column) const {
  const char* v = PQgetvalue(result_.get(), row, column);
  return std::string(v, static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::int64_t Result::int64(int row, int column) const {
  const char* v = PQgetvalue(result_.get(), row, column);
  try {
    std::size_t used = 0;
    const long long n = std::stoll(v, &used);
    if (v[used] != '\0') throw std::invalid_argument("trailing text");
    return n;
  } catch (const std::logic_error&) {
    throw LedgerError(std::string("ledger: column ") + PQfname(result_.get(), column) + " is not an integer");
  }
}

bool Result::boolean(int row, int column) const { return PQgetvalue(result_.get(), row, column)[0] == 't'; }

std::vector<std::uint8_t> Result::bytes(int row, int column) const {
  // bytea in text format is "\x" followed by hex (bytea_output = hex, the default since 9.0).
  const std::string v = text(row, column);
  if (v.size() < 2 || v[0] != '\\' || v[1] != 'x') {
    throw LedgerError(std::string("ledger: column ") + PQfname(result_.get(), column) + " is not hex bytea");
  }
  return from_hex(std::string_view(v).substr(2));
}

std::optional<std::int64_t> Result::optional_int64(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return int64(row, column);
}

std::string Result::command_status() const { return PQcmdStatus(result_.get()); }

std::size_t Result::affected() const {
  const char* n = PQcmdTuples(result_.get());
  return n[0] == '\0' ? 0 : static_cast<std::size_t>(std::stoull(n));
}

// --- Params --------------------------------------------------------------------------

Params& Params::add_text(std::string value) {
  lengths_.push_back(0);
  formats_.push_back(0);
  null_.push_back(false);
  values_.push_back(std::move(value));
  return *this;
}

Params& Params::add_bytes(std::span<const std::uint8_t> value) {
  lengths_.push_back(static_cast<int>(value.size()));
  formats_.push_back(1);
  null_.push_back(false);
  values_.emplace_back(reinterpret_cast<const char*>(value.data()), value.size());
  return *this;
}

Params& Params::add_null() {
  lengths_.push_back(0);
  formats_.push_back(0);
  null_.push_back(true);
  values_.emplace_back();
  return *this;
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) out.push_back(null_[i] ? nullptr : values_[i].c_str());
  return out;
}

// --- Connection ----------------------------------------------------------------------

void check_conninfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    const std::string why = first_line(error);
    PQfreemem(error);
    // libpq's message quotes no part of the string; neither do we (it may hold a password).
    throw LedgerError("ledger: the PostgreSQL url is not a valid connection string: " + why);
  }
  bool has_password = false;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr && o->val[0] != '\0') has_password = true;
  }
  PQconninfoFree(options);
  if (has_password) {
    throw LedgerError("ledger: the PostgreSQL url must not contain a password; put it in [ledger] password_file "
                      "or a PGPASSFILE");
  }
}

Connection Connection::open(const ConnectOptions& options) {
  check_conninfo(options.conninfo);
  const std::string timeout = std::to_string(options.connect_timeout.count());
  // Later keywords override earlier ones, and `dbname` is expanded into the options the
  // url carries: our defaults come first, so the url may override them; the password
  // from the password file comes last.
  // A server that vanishes without closing the connection (a partition, a dead host)
  // fails a statement after tcp_user_timeout instead of after the kernel's minutes of
  // retransmissions: issuance fails fast rather than hanging.
  std::vector<const char*> keys = {"connect_timeout", "application_name", "client_encoding", "keepalives_idle",
                                   "keepalives_interval", "keepalives_count", "tcp_user_timeout", "dbname"};
  std::vector<const char*> values = {timeout.c_str(), "portcullis", "UTF8", "10", "5", "3", "15000",
                                     options.conninfo.c_str()};
  if (!options.password.empty()) {
    keys.push_back("password");
    values.push_back(options.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  ConnectionPtr conn(PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1));
  if (!conn) throw LedgerError("ledger: out of memory connecting to PostgreSQL");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    // libpq's message names host, port and user, never the password.
    throw LedgerUnavailable("ledger: cannot connect to PostgreSQL: " + first_line(PQerrorMessage(conn.get())));
  }
  return Connection(std::move(conn));
}

Result Connection::check(PGresult* raw, std::string_view sql) {
  ResultPtr result(raw);
  if (!result) {
    throw PgError("ledger: executing " + sql_head(sql) + ": " + first_line(PQerrorMessage(conn_.get())), "08006", "");
  }
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_SINGLE_TUPLE) {
    return Result(std::move(result));
  }
  std::string primary = field(result.get(), PG_DIAG_MESSAGE_PRIMARY);
  if (primary.empty()) primary = first_line(PQresultErrorMessage(result.get()));
  std::string sqlstate = field(result.get(), PG_DIAG_SQLSTATE);
  if (sqlstate.empty() && PQstatus(conn_.get()) != CONNECTION_OK) sqlstate = "08006";
  throw PgError("ledger: executing " + sql_head(sql) + ": " + primary + " (sqlstate " + sqlstate + ")", sqlstate,
                field(result.get(), PG_DIAG_CONSTRAINT_NAME));
}

Result Connection::exec(std::string_view sql) {
  const std::string text(sql);
  return check(PQexec(conn_.get(), text.c_str()), sql);
}

Result Connection::exec(std::string_view sql, const Params& params) {
  const std::string text(sql);
  const std::vector<const char*> values = params.pointers();
  return check(PQexecParams(conn_.get(), text.c_str(), params.size(), nullptr, values.data(), params.lengths(),
                            params.formats(), /*resultFormat=*/0),
               sql);
}

void Connection::stream(std::string_view sql, const Params& params,
                        const std::function<void(const Result& row)>& row) {
  const std::string text(sql);
  const std::vector<const char*> values = params.pointers();
  if (PQsendQueryParams(conn_.get(), text.c_str(), params.size(), nullptr, values.data(), params.lengths(),
                        params.formats(), 0) == 0 ||
      PQsetSingleRowMode(conn_.get()) == 0) {
    throw PgError("ledger: executing " + sql_head(sql) + ": " + first_line(PQerrorMessage(conn_.get())), "08006",
                  "");
  }
  // Every result must be read before the connection takes another command, also when
  // the callback or a row fails.
  std::exception_ptr failure;
  while (PGresult* raw = PQgetResult(conn_.get())) {
    if (failure) {
      PQclear(raw);
      continue;
    }
    try {
      Result result = check(raw, sql);
      if (result.rows() == 1) row(result);
    } catch (...) {
      failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

bool Connection::wait_for_notification(std::chrono::milliseconds timeout) {
  const auto drain = [&] {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_.get())) {
      PQfreemem(n);
      any = true;
    }
    return any;
  };
  if (drain()) return true;
  pollfd p{PQsocket(conn_.get()), POLLIN, 0};
  if (p.fd < 0) throw PgError("ledger: the listening connection is closed", "08006", "");
  const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (ready < 0 && errno != EINTR) throw PgError("ledger: poll on the listening connection failed", "08006", "");
  if (ready <= 0) return false;
  if (PQconsumeInput(conn_.get()) == 0 || PQstatus(conn_.get()) != CONNECTION_OK) {
    throw PgError("ledger: lost the listening connection: " + first_line(PQerrorMessage(conn_.get())), "08006", "");
  }
  return drain();
}

// --- Transaction ---------------------------------------------------------------------

Transaction::Transaction(Connection& db) : db_(db) { db_.exec("BEGIN"); }

Transaction::~Transaction() {
  if (!open_ || db_.broken()) return;
  // A failed ROLLBACK leaves the connection in a transaction; the pool drops such a one.
  PQclear(PQexec(db_.handle(), "ROLLBACK"));
}

void Transaction::commit() {
  const auto started = std::chrono::steady_clock::now();
  Result done = db_.exec("COMMIT");
  open_ = false;
  // COMMIT of a transaction in which a statement failed answers ROLLBACK, not an error.
  if (done.command_status() != "COMMIT") throw LedgerError("ledger: the transaction was rolled back");
  if (CommitObserver* observer = db_.commit_observer()) observer->committed(std::chrono::steady_clock::now() - started);
}

// --- Pool ----------------------------------------------------------------------------

Pool::Pool(ConnectOptions options, std::size_t size) : options_(std::move(options)), size_(size == 0 ? 1 : size) {}

Pool::Lease::~Lease() {
  if (conn_) pool_->release(std::move(conn_));
}

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      conn->observe_commits(commits_);
      return Lease(*this, std::move(conn));
    }
    if (open_ < size_) break;
    // Leases are held for one ledger call; a wait this long means the database hangs.
    if (!freed_.wait_for(lock, std::chrono::seconds(30), [&] { return !idle_.empty() || open_ < size_; })) {
      throw LedgerError("ledger: every PostgreSQL connection has been busy for 30 s");
    }
  }
  ++open_;
  lock.unlock();
  try {
    auto conn = std::make_unique<Connection>(Connection::open(options_));
    conn->observe_commits(commits_);
    return Lease(*this, std::move(conn));
  } catch (...) {
    lock.lock();
    --open_;
    freed_.notify_one();
    throw;
  }
}

void Pool::release(std::unique_ptr<Connection> conn) noexcept {
  // A broken connection, or one left inside a transaction, is closed rather than reused.
  const bool broken = conn->broken();
  const bool reusable = !broken && PQtransactionStatus(conn->handle()) == PQTRANS_IDLE;
  if (!reusable) conn.reset();
  std::vector<std::unique_ptr<Connection>> stale;
  std::lock_guard lock(mutex_);
  if (reusable) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  if (broken) {
    // The server restarted or went away: the idle connections went with it. Dropping
    // them now spares the next users a failed statement each.
    open_ -= idle_.size();
    stale.swap(idle_);
  }
  freed_.notify_all();
}

}  // namespace portcullis::ca::postgres
