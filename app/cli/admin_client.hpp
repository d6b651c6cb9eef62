// The CLI's view of the admin API: address, TLS trust and bearer token from the config,
// JSON in and out, a one-line error for anything but 2xx.
#pragma once

#include "app/http/client.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace portcullis::app {

struct Config;

class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AdminClient {
 public:
  explicit AdminClient(const Config& config);

  nlohmann::json get(const std::string& target) { return call("GET", target, nullptr); }
  nlohmann::json post(const std::string& target, const nlohmann::json& body) { return call("POST", target, body); }
  // A GET whose 2xx body is not JSON (an Apple .mobileconfig): returned as is. Errors are
  // still the API's JSON {"error"}.
  std::string get_text(const std::string& target);

 private:
  nlohmann::json call(const std::string& method, const std::string& target, const nlohmann::json& body);
  // The 2xx body; CliError with the API's message otherwise.
  std::string call_raw(const std::string& method, const std::string& target, const nlohmann::json& body);

  HttpClientOptions options_;
  std::string token_;
};

// Where the admin API of the service that `config` describes is reached: a wildcard bind
// through loopback, TLS trusting our root.
HttpClientOptions admin_http_options(const Config& config);

}  // namespace portcullis::app
