// The calls to Microsoft Intune that a third-party SCEP CA makes, as Microsoft's published
// client libraries make them (microsoft/Intune-Resource-Access, src/CsrValidation):
//  - an OAuth 2.0 client-credentials token from Microsoft Entra ID (RFC 6749 §4.4), with a
//    client secret or a certificate's signed assertion (RFC 7523 §2.2), cached until it
//    expires, one per scope (Microsoft Graph; Intune);
//  - the Intune service endpoints, discovered through Microsoft Graph's service-principal
//    endpoints of the Intune application and cached until a call to one of them fails;
//  - POST <endpoint>/<action> with a JSON body and the headers those libraries send
//    (Authorization, client-request-id, api-version, UserAgent).
// Every call ends by the deadline it is given; the secret, the assertion and the tokens
// never reach a log or an exception's message.
#pragma once

#include "app/http/url.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace portcullis::app {

struct IntuneSettings {
  std::string tenant;                    // directory (tenant) id or domain
  std::string client_id;                 // the app registration's application id
  std::string client_secret;             // or:
  std::string certificate_pem;           // the app's certificate and its RSA key (RS256 assertion)
  std::string key_pem;
  std::string login_url = "https://login.microsoftonline.com";
  std::string graph_url = "https://graph.microsoft.com";
  // The Intune resource the token is for (its "/.default" scope); never called itself.
  std::string intune_resource = "https://api.manage.microsoft.com/";
  std::string intune_app_id = "0000000a-0000-0000-c000-000000000000";
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";
  std::string caller_info = "Portcullis";
};

using IntuneClock = std::chrono::steady_clock;

class IntuneClient {
 public:
  // std::invalid_argument for a URL it cannot use, neither or both credentials, or a key
  // that is not RSA or does not match the certificate.
  explicit IntuneClient(IntuneSettings settings);

  // POSTs `body` to the action below the service's endpoint with `api_version`; the
  // answer's JSON object on 2xx. std::runtime_error with a reason fit for logs otherwise
  // (the endpoint map is then forgotten, so the next call discovers it again). Thread-safe.
  nlohmann::json post(const std::string& service, const std::string& action, const std::string& api_version,
                      const nlohmann::json& body, IntuneClock::time_point deadline);

  const IntuneSettings& settings() const { return settings_; }

 private:
  struct Token {
    std::string value;
    IntuneClock::time_point expires;
  };
  std::string token(const std::string& scope, IntuneClock::time_point deadline);
  std::string endpoint(const std::string& service, IntuneClock::time_point deadline);
  std::string client_assertion(const std::string& audience) const;
  void forget_endpoints();

  IntuneSettings settings_;
  HttpUrl login_, graph_;
  std::string token_path_;               // /<tenant>/oauth2/v2.0/token
  std::mutex mutex_;
  std::map<std::string, Token> tokens_;                 // by scope, guarded by mutex_
  std::map<std::string, std::string> endpoints_;        // lowercase service name -> URI, guarded by mutex_
};

// A request id the way the libraries make one: a random GUID, lowercase.
std::string intune_request_id();

}  // namespace portcullis::app
