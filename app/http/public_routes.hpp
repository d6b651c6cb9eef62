// The public listener's routes: revocation data for third parties, over plain HTTP (CRL
// and OCSP must never depend on TLS, RFC 5280 §4.2.1.13 / RFC 6960 App. A):
//   GET  /crl            DER CRL,  application/pkix-crl   (RFC 2585 §4.2)
//   GET  /crl.pem        PEM CRL,  application/x-pem-file
//   POST /ocsp           application/ocsp-request -> application/ocsp-response (RFC 6960 A.1)
//   GET  /ocsp/<base64>  the same, request base64-encoded then URL-encoded (RFC 6960 A.1)
// Other front ends (SCEP at /scep, RFC 8894 §4.1) mount under a path prefix with mount().
#pragma once

#include "app/http/types.hpp"
#include "ca/crl.hpp"
#include "ca/ocsp.hpp"
#include "scep/http_routes.hpp"

#include <string>
#include <utility>
#include <vector>

namespace portcullis::app {

class PublicRoutes {
 public:
  PublicRoutes(ca::CrlPublisher& crl, const ca::OcspResponder& ocsp);

  // Requests whose path is `prefix` or starts with `prefix` + "/" go to `handler`.
  // Register before start (not thread-safe against handle()).
  void mount(std::string prefix, HttpHandler handler);

  // Thread-safe; never throws for bad input (a 4xx comes back instead).
  HttpResponse handle(const HttpRequest& request) const;

 private:
  HttpResponse crl(const HttpRequest& request, bool pem) const;
  HttpResponse ocsp_post(const HttpRequest& request) const;
  HttpResponse ocsp_get(const std::string& encoded) const;
  HttpResponse ocsp_answer(const std::string& request_der) const;

  ca::CrlPublisher& crl_;
  const ca::OcspResponder& ocsp_;
  std::vector<std::pair<std::string, HttpHandler>> mounts_;
};

// The SCEP routes as a handler of this listener: our request and response adapted to
// scep/'s own (scep/http_exchange.hpp). `routes` must outlive the handler.
HttpHandler scep_handler(const scep::HttpRoutes& routes);

}  // namespace portcullis::app
