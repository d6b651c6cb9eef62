// The two HTTP listeners of `serve` and the worker pools their handlers run on: the public
// one (SCEP, OCSP, CRL; reachable by anyone) and the admin API. Each has its own connection
// caps and its own pool, so that neither a connection flood nor slow handlers on the public
// port can take the admin API's connections or queue its requests: an operator can still
// see and revoke during an attack. RADIUS runs on the I/O threads, which handlers never
// block.
#pragma once

#include "app/config.hpp"
#include "app/http/server.hpp"
#include "app/io_runner.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace portcullis::app {

class HttpListeners {
 public:
  // `admin_tls` null: the admin API speaks plain HTTP. `public_workers` 0: four per I/O
  // thread. Exceptions escaping a handler thread are counted in `handler_exceptions`.
  HttpListeners(boost::asio::io_context& io, const Config& config, unsigned io_threads,
                std::shared_ptr<boost::asio::ssl::context> admin_tls, HttpHandler public_handler,
                HttpHandler admin_handler, std::atomic<std::uint64_t>& handler_exceptions);

  void start();  // binds both; throws naming the address that failed
  void stop();   // stops accepting on both; requests in flight finish
  // After the io_context has stopped: lets queued handlers finish and joins their threads.
  void join_workers();

  HttpServer& public_server() { return public_; }
  HttpServer& admin_server() { return admin_; }
  unsigned public_workers() const { return public_pool_.size(); }
  unsigned admin_workers() const { return admin_pool_.size(); }
  // http_public_open, http_public_refused_total_cap, http_public_refused_address_cap,
  // http_public_reclaimed, and the same for http_admin_.
  std::vector<std::pair<std::string, std::uint64_t>> counters() const;

 private:
  WorkerPool public_pool_;
  WorkerPool admin_pool_;
  HttpServer public_;
  HttpServer admin_;
};

}  // namespace portcullis::app
