// Transport-neutral HTTP request/response, so that route handlers (admin API, /crl,
// /ocsp, later /scep) are plain functions testable without sockets and without Beast.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace portcullis::app {

struct HttpRequest {
  std::string method;                          // "GET", "POST", …
  std::string target;                          // as received: path + "?" + query
  std::string path;                            // percent-decoding is the handler's business
  std::string query;                           // without the '?'
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote_address;

  const std::string* header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

}  // namespace portcullis::app
