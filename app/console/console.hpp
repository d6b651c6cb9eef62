// The operator console on the admin listener: the pages (/, /devices, /devices/{name}, …),
// their embedded assets (/assets/*), and sign-in (/console/session). A browser signs in
// with an admin token and gets a session cookie; the admin API then accepts that cookie in
// place of a bearer token (authenticate_api), with a CSRF token on every state change.
// A plain handler like AdminApi (no sockets), so it is tested by calling it.
#pragma once

#include "app/admin/api.hpp"
#include "app/console/session_store.hpp"
#include "app/http/types.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::app::console {

class Console {
 public:
  // `tls`: the admin listener serves HTTPS (then the cookie is Secure and "__Host-" named,
  // RFC 6265bis §4.1.3.2, and the expected Origin is https://).
  explicit Console(bool tls, SessionLimits limits = {});

  // Paths the console answers; everything else is the API's.
  static bool owns(std::string_view path);

  // The admin listener's handler: the console's paths, else `api`, whose answers get the
  // console's security headers too (a browser reads them; /metrics is left as it is).
  HttpResponse serve(const HttpRequest& request, AdminApi& api);

  // The audit actor for a typed admin token, nullopt when it is no configured token.
  using TokenCheck = std::function<std::optional<std::string>(std::string_view token)>;
  HttpResponse handle(const HttpRequest& request, const TokenCheck& check_token, ca::UnixTime now);

  // The API's view of a request without a bearer token (AdminApi::set_cookie_auth): no
  // console cookie (nullopt actor, no refusal: the API answers 401), a live session (its
  // actor), or a state change that fails the CSRF token or origin checks (a refusal
  // sentence: the API answers 403).
  AdminApi::CookieAuth authenticate_api(const HttpRequest& request, ca::UnixTime now);

  std::string cookie_name() const;

 private:
  HttpResponse page(const HttpRequest& request, ca::UnixTime now);
  HttpResponse asset(const HttpRequest& request) const;
  HttpResponse session_route(const HttpRequest& request, const TokenCheck& check_token, ca::UnixTime now);
  HttpResponse sign_in(const HttpRequest& request, const TokenCheck& check_token, ca::UnixTime now);
  std::optional<ConsoleSession> session_of(const HttpRequest& request, ca::UnixTime now);
  // Origin and Sec-Fetch-Site say the request comes from our own pages; a refusal otherwise.
  std::optional<std::string> cross_site_refusal(const HttpRequest& request) const;
  std::string session_cookie(const std::string& value, bool clear) const;

  bool tls_;
  SessionStore sessions_;
};

// The value of cookie `name` in a Cookie header (RFC 6265 §5.4), "" when absent.
std::string cookie_value(const HttpRequest& request, std::string_view name);

}  // namespace portcullis::app::console
