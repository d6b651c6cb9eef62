#include "app/listeners.hpp"

namespace portcullis::app {
namespace {

HttpServerOptions public_options(const Config& config, boost::asio::any_io_executor workers) {
  HttpServerOptions o;
  o.name = "public";
  o.bind_address = config.http.bind;
  o.port = config.http.port;
  o.max_body_bytes = config.http.max_body_bytes;
  o.header_timeout = std::chrono::seconds(config.http.header_timeout_seconds);
  o.caps = ConnectionCaps{static_cast<std::size_t>(config.http.max_connections),
                          static_cast<std::size_t>(config.http.max_connections_per_address)};
  o.handler_executor = std::move(workers);
  return o;
}

HttpServerOptions admin_options(const Config& config, std::shared_ptr<boost::asio::ssl::context> tls,
                                boost::asio::any_io_executor workers) {
  HttpServerOptions o;
  o.name = "admin";
  o.bind_address = config.admin.bind;
  o.port = config.admin.port;
  o.max_body_bytes = config.admin.max_body_bytes;
  o.tls = std::move(tls);
  o.header_timeout = std::chrono::seconds(config.admin.header_timeout_seconds);
  o.caps = ConnectionCaps{static_cast<std::size_t>(config.admin.max_connections),
                          static_cast<std::size_t>(config.admin.max_connections_per_address)};
  o.handler_executor = std::move(workers);
  return o;
}

// More public workers than cores: while some wait for the disk (WAL sync), others sign,
// and enrollments that reach the ledger together share one commit
// (ca/ledger/sqlite_group_commit.hpp).
unsigned public_worker_count(const Config& config, unsigned io_threads) {
  return config.service.http_workers ? config.service.http_workers : 4 * std::max(1u, io_threads);
}

void add_counters(std::vector<std::pair<std::string, std::uint64_t>>& out, const std::string& prefix,
                  const HttpServerStats& stats) {
  out.emplace_back(prefix + "_open", stats.open_connections);
  out.emplace_back(prefix + "_refused_total_cap", stats.refused_total_cap);
  out.emplace_back(prefix + "_refused_address_cap", stats.refused_address_cap);
  out.emplace_back(prefix + "_reclaimed", stats.reclaimed);
}

}  // namespace

HttpListeners::HttpListeners(boost::asio::io_context& io, const Config& config, unsigned io_threads,
                             std::shared_ptr<boost::asio::ssl::context> admin_tls, HttpHandler public_handler,
                             HttpHandler admin_handler, std::atomic<std::uint64_t>& handler_exceptions)
    : public_pool_("public HTTP", public_worker_count(config, io_threads), handler_exceptions),
      admin_pool_("admin HTTP", static_cast<unsigned>(config.admin.workers), handler_exceptions),
      public_(io, public_options(config, public_pool_.executor()), std::move(public_handler)),
      admin_(io, admin_options(config, std::move(admin_tls), admin_pool_.executor()), std::move(admin_handler)) {}

void HttpListeners::start() {
  public_.start();
  admin_.start();
}

void HttpListeners::stop() {
  public_.stop();
  admin_.stop();
}

void HttpListeners::join_workers() {
  public_pool_.join();
  admin_pool_.join();
}

std::vector<std::pair<std::string, std::uint64_t>> HttpListeners::counters() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  add_counters(out, "http_public", public_.stats());
  add_counters(out, "http_admin", admin_.stats());
  return out;
}

}  // namespace portcullis::app
