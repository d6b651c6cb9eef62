#include "app/cli/admin_client.hpp"

#include "app/config.hpp"
#include "app/http/client.hpp"
#include "ca/hex.hpp"
#include "ca/x509.hpp"

#include <cstdlib>

namespace portcullis::app {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

HttpClientOptions admin_http_options(const Config& config) {
  HttpClientOptions options;
  options.host = config.admin.bind;
  options.port = config.admin.port;
  options.tls = config.admin_tls_effective();
  options.ca_file = config.ca.dir + "/root.pem";
  // A wildcard bind is reached through loopback; the admin certificate names localhost.
  if (options.host == "0.0.0.0" || options.host.empty()) options.host = "127.0.0.1";
  if (options.host == "::") options.host = "::1";
  return options;
}

AdminClient::AdminClient(const Config& config) : options_(admin_http_options(config)) {
  if (const char* env = std::getenv("PORTCULLIS_TOKEN"); env != nullptr && *env != '\0') {
    token_ = env;
  } else {
    if (config.admin.token_file.empty()) throw CliError("no admin token: set PORTCULLIS_TOKEN or admin.token_file");
    try {
      token_ = trim(ca::read_file(config.admin.token_file));
    } catch (const std::exception&) {
      throw CliError("cannot read the admin token from " + config.admin.token_file +
                     " (set PORTCULLIS_TOKEN, or run as the service user)");
    }
  }
}

nlohmann::json AdminClient::call(const std::string& method, const std::string& target, const nlohmann::json& body) {
  nlohmann::json parsed = nlohmann::json::parse(call_raw(method, target, body), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) throw CliError("admin API answered with malformed JSON");
  return parsed;
}

std::string AdminClient::get_text(const std::string& target) { return call_raw("GET", target, nullptr); }

std::string AdminClient::call_raw(const std::string& method, const std::string& target, const nlohmann::json& body) {
  std::vector<std::pair<std::string, std::string>> headers = {{"Authorization", "Bearer " + token_},
                                                              {"Accept", "application/json"}};
  std::string payload;
  if (!body.is_null()) {
    headers.emplace_back("Content-Type", "application/json");
    payload = body.dump();
  }
  HttpClientResponse response;
  try {
    response = http_request(options_, method, "/api/v1" + target, headers, payload);
  } catch (const std::exception& e) {
    throw CliError(e.what());
  }
  if (response.status < 200 || response.status >= 300) {
    nlohmann::json parsed = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string())
      throw CliError(parsed["error"].get<std::string>());
    throw CliError("admin API answered HTTP " + std::to_string(response.status));
  }
  return std::move(response.body);
}

}  // namespace portcullis::app
