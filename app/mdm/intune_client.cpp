#include "app/mdm/intune_client.hpp"

#include "app/http/client.hpp"
#include "app/http/url.hpp"
#include "ca/base64.hpp"
#include "ca/log_text.hpp"
#include "ca/x509.hpp"
#include "scep/mdm_profiles.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>

namespace portcullis::app {
namespace {

// A token is used until this long before it expires: a call made with it must not reach
// the service after it expired.
constexpr auto kTokenMargin = std::chrono::seconds(60);
constexpr std::size_t kMaxShown = 200;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string without_trailing_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// What a service said, for a log line: one line, short, and never the request's secrets
// (the answer does not hold them).
std::string shown(const std::string& text) {
  std::string out = ca::log_safe(text);
  if (out.size() > kMaxShown) out = out.substr(0, kMaxShown) + "…";
  return out;
}

HttpClientResponse send(const HttpUrl& url, const std::string& target, const std::string& method,
                        const HttpHeaders& headers, const std::string& body, const std::string& ca_file,
                        IntuneClock::time_point deadline, const char* peer) {
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - IntuneClock::now());
  if (left.count() < 0) throw std::runtime_error(std::string("no time left to ask ") + peer);
  HttpClientOptions options;
  options.host = url.host;
  options.port = url.port;
  options.tls = url.tls;
  options.ca_file = ca_file;
  options.timeout = left + std::chrono::seconds(1);
  options.deadline = deadline;
  options.peer = peer;
  return http_request(options, method, target, headers, body);
}

nlohmann::json json_object(const HttpClientResponse& response, const std::string& what) {
  const nlohmann::json j = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (response.status < 200 || response.status > 299) {
    std::string detail;
    if (j.is_object() && j.contains("error") && j["error"].is_string()) detail = ": " + shown(j["error"].get<std::string>());
    throw std::runtime_error(what + " answered HTTP " + std::to_string(response.status) + detail);
  }
  if (!j.is_object()) throw std::runtime_error(what + " answered something that is not a JSON object");
  return j;
}

// "target" part of an endpoint URI joined with the action: <uri>/<action>.
std::string joined(const HttpUrl& base, const std::string& action) {
  std::string target = base.target;
  if (target.empty() || target.back() != '/') target += '/';
  return target + action;
}

std::string sha1_base64url(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha1(), md, &len) != 1) throw ca::OpenSslError("X509_digest");
  return ca::base64url_encode({md, len});
}

std::string base64url_text(const std::string& text) {
  return ca::base64url_encode({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

}  // namespace

std::string intune_request_id() { return lower(scep::random_uuid_v4()); }

IntuneClient::IntuneClient(IntuneSettings settings)
    : settings_(std::move(settings)),
      login_(parse_http_url(settings_.login_url)),
      graph_(parse_http_url(settings_.graph_url)) {
  if (settings_.tenant.empty() || settings_.client_id.empty())
    throw std::invalid_argument("Intune needs a tenant and a client id");
  const bool secret = !settings_.client_secret.empty();
  const bool certificate = !settings_.certificate_pem.empty() || !settings_.key_pem.empty();
  if (secret == certificate) throw std::invalid_argument("Intune needs a client secret or a certificate and key, not both");
  if (certificate) {
    const ca::X509Ptr cert = ca::cert_from_pem(settings_.certificate_pem);
    const ca::EvpPkeyPtr key = ca::key_from_pem(settings_.key_pem);
    // Microsoft Entra ID takes RS256 assertions (RFC 7518 §3.3).
    if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) throw std::invalid_argument("the Intune client key must be RSA");
    if (X509_check_private_key(cert.get(), key.get()) != 1)
      throw std::invalid_argument("the Intune client key does not match its certificate");
  }
  token_path_ = without_trailing_slash(login_.target) + "/" + ca::log_safe(settings_.tenant) + "/oauth2/v2.0/token";
}

// RFC 7523 §2.2 client assertion, as Microsoft Entra ID takes it: RS256, the certificate's
// SHA-1 thumbprint in "x5t" (RFC 7515 §4.1.7), audience the token endpoint, valid briefly.
std::string IntuneClient::client_assertion(const std::string& audience) const {
  const ca::X509Ptr cert = ca::cert_from_pem(settings_.certificate_pem);
  const ca::EvpPkeyPtr key = ca::key_from_pem(settings_.key_pem);
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  const nlohmann::json header{{"alg", "RS256"}, {"typ", "JWT"}, {"x5t", sha1_base64url(cert.get())}};
  const nlohmann::json claims{{"aud", audience}, {"iss", settings_.client_id}, {"sub", settings_.client_id},
                              {"jti", intune_request_id()}, {"nbf", now}, {"iat", now}, {"exp", now + 600}};
  const std::string input = base64url_text(header.dump()) + "." + base64url_text(claims.dump());
  ca::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    throw ca::OpenSslError("EVP_DigestSign (Intune client assertion)");
  ca::Bytes signature(len);
  if (EVP_DigestSign(ctx.get(), signature.data(), &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1)
    throw ca::OpenSslError("EVP_DigestSign (Intune client assertion)");
  signature.resize(len);
  return input + "." + ca::base64url_encode(signature);
}

// RFC 6749 §4.4.2 client-credentials grant on the v2.0 endpoint, `scope` "<resource>/.default".
std::string IntuneClient::token(const std::string& scope, IntuneClock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    const auto found = tokens_.find(scope);
    if (found != tokens_.end() && IntuneClock::now() + kTokenMargin < found->second.expires) return found->second.value;
  }
  const std::string audience = without_trailing_slash(settings_.login_url) + "/" + settings_.tenant + "/oauth2/v2.0/token";
  std::string form = "grant_type=client_credentials&client_id=" + url_encode(settings_.client_id) +
                     "&scope=" + url_encode(scope);
  if (!settings_.client_secret.empty())
    form += "&client_secret=" + url_encode(settings_.client_secret);
  else
    form += "&client_assertion_type=" + url_encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
            "&client_assertion=" + url_encode(client_assertion(audience));
  const HttpClientResponse response =
      send(login_, token_path_, "POST", {{"Content-Type", "application/x-www-form-urlencoded"}}, form,
           settings_.ca_file, deadline, "Microsoft Entra ID");
  const nlohmann::json j = json_object(response, "the token endpoint");
  if (!j.contains("access_token") || !j["access_token"].is_string() || j["access_token"].get<std::string>().empty())
    throw std::runtime_error("the token endpoint answered no access_token");
  // expires_in is a number on the v2.0 endpoint; some answer it as a string.
  std::int64_t lifetime = 0;
  if (j.contains("expires_in") && j["expires_in"].is_number_integer()) lifetime = j["expires_in"].get<std::int64_t>();
  if (j.contains("expires_in") && j["expires_in"].is_string()) {
    try {
      lifetime = std::stoll(j["expires_in"].get<std::string>());
    } catch (const std::exception&) {
      lifetime = 0;
    }
  }
  if (lifetime <= 0) throw std::runtime_error("the token endpoint answered no usable expires_in");
  Token t{j["access_token"].get<std::string>(), IntuneClock::now() + std::chrono::seconds(lifetime)};
  std::lock_guard lock(mutex_);
  tokens_[scope] = t;
  return t.value;
}

// Microsoft Graph: GET /v1.0/servicePrincipals/appId=<Intune app id>/endpoints, whose
// "value" lists {providerName, uri}; the libraries match the name case-insensitively.
std::string IntuneClient::endpoint(const std::string& service, IntuneClock::time_point deadline) {
  const std::string key = lower(service);
  {
    std::lock_guard lock(mutex_);
    if (!endpoints_.empty()) {
      const auto found = endpoints_.find(key);
      if (found == endpoints_.end()) throw std::runtime_error("Microsoft Graph lists no endpoint for " + service);
      return found->second;
    }
  }
  const std::string bearer = token(without_trailing_slash(settings_.graph_url) + "/.default", deadline);
  const std::string target =
      without_trailing_slash(graph_.target) + "/v1.0/servicePrincipals/appId=" + settings_.intune_app_id + "/endpoints";
  const HttpClientResponse response =
      send(graph_, target, "GET", {{"Authorization", "Bearer " + bearer}, {"client-request-id", intune_request_id()}},
           {}, settings_.ca_file, deadline, "Microsoft Graph");
  const nlohmann::json j = json_object(response, "Microsoft Graph");
  if (!j.contains("value") || !j["value"].is_array()) throw std::runtime_error("Microsoft Graph answered no endpoint list");
  std::map<std::string, std::string> found;
  for (const auto& e : j["value"]) {
    if (!e.is_object() || !e.contains("uri") || !e["uri"].is_string()) continue;
    const char* name_key = e.contains("providerName") ? "providerName" : "serviceName";
    if (!e.contains(name_key) || !e[name_key].is_string()) continue;
    found.emplace(lower(e[name_key].get<std::string>()), e["uri"].get<std::string>());
  }
  const auto wanted = found.find(key);
  if (wanted == found.end()) throw std::runtime_error("Microsoft Graph lists no endpoint for " + service);
  std::string uri = wanted->second;
  std::lock_guard lock(mutex_);
  endpoints_ = std::move(found);
  return uri;
}

void IntuneClient::forget_endpoints() {
  std::lock_guard lock(mutex_);
  endpoints_.clear();
}

nlohmann::json IntuneClient::post(const std::string& service, const std::string& action,
                                  const std::string& api_version, const nlohmann::json& body,
                                  IntuneClock::time_point deadline) {
  try {
    const std::string uri = endpoint(service, deadline);
    HttpUrl base;
    try {
      base = parse_http_url(uri);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error("Microsoft Graph lists an endpoint for " + service + " that " + e.what());
    }
    // The bearer token and the CSRs go there: never in clear, whatever discovery says.
    if (!base.tls) throw std::runtime_error("Microsoft Graph lists an endpoint for " + service + " that is not https");
    const std::string bearer = token(settings_.intune_resource + "/.default", deadline);
    const HttpHeaders headers{{"Authorization", "Bearer " + bearer},
                              {"Content-Type", "application/json"},
                              {"client-request-id", intune_request_id()},
                              {"api-version", api_version},
                              {"UserAgent", settings_.caller_info}};
    const HttpClientResponse response = send(base, joined(base, action), "POST", headers, body.dump(), settings_.ca_file,
                                             deadline, "Microsoft Intune");
    return json_object(response, service + " " + action);
  } catch (const std::exception&) {
    // The libraries forget the service map when a call fails: the service may have moved.
    forget_endpoints();
    throw;
  }
}

}  // namespace portcullis::app
