// One HTTP exchange as SCEP sees it (RFC 8894 §4.1): plain values, no transport. The
// listener that carries SCEP (app/http/public_routes) adapts its own request and response
// to these, so scep/ knows nothing of the HTTP server it is mounted on.
#pragma once

#include <string>

namespace portcullis::scep {

struct HttpRequest {
  std::string method;           // "GET", "POST", …
  std::string query;            // as received, without the '?': values are decoded by their reader
  std::string body;
  std::string content_type;
  std::string remote_address;   // the peer, for the per-source limits on refusal rows
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::string allow;            // the Allow header of a 405 (RFC 9110 §15.5.6); empty: none
};

}  // namespace portcullis::scep
