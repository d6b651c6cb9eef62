// GET /metrics on the admin listener (the Prometheus text format, app/admin/metrics.hpp).
// Readable with an admin bearer token, like the API, or without one from an address in
// [metrics] allow: Prometheus scrapers are usually configured with neither TLS client
// certificates nor secrets, and a loopback or monitoring-subnet scraper is the common case.
// With `allow` empty (the default) only the token opens it. A refused scrape gets the
// API's 401 and WWW-Authenticate: Bearer (RFC 6750 §3), whatever the address.
#include "app/admin/api.hpp"
#include "app/admin/json.hpp"

#include <spdlog/spdlog.h>

namespace portcullis::app {
namespace {

bool address_allowed(const std::vector<radius::IpPrefix>& allow, const std::string& remote) {
  if (allow.empty()) return false;
  const auto address = radius::IpAddress::parse(remote);
  if (!address) return false;
  for (const auto& prefix : allow)
    if (prefix.contains(*address)) return true;
  return false;
}

}  // namespace

HttpResponse AdminApi::serve_metrics(const HttpRequest& request) const {
  if (!metrics_) return admin::error_response(404, "no such route");
  if (!address_allowed(metrics_allow_, request.remote_address) && !authenticate(request)) {
    spdlog::warn("admin API: unauthenticated {} /metrics from {}", request.method, request.remote_address);
    HttpResponse response = admin::error_response(401, "missing or invalid bearer token");
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"portcullis\"");
    return response;
  }
  if (request.method != "GET") {
    HttpResponse response = admin::error_response(405, "method not allowed");
    response.headers.emplace_back("Allow", "GET");
    return response;
  }
  HttpResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = metrics_();
  return response;
}

}  // namespace portcullis::app
