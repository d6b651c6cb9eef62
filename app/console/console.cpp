#include "app/console/console.hpp"

#include "app/admin/json.hpp"
#include "app/console/assets.hpp"
#include "app/console/security_headers.hpp"

#include <spdlog/spdlog.h>

#include <array>

namespace portcullis::app::console {

using admin::json;

namespace {

constexpr std::string_view kSessionPath = "/console/session";
constexpr std::string_view kAssetPrefix = "/assets/";

// Page URLs the single-page app draws; a link to any of them can be pasted into a ticket.
constexpr std::array<std::string_view, 8> kPages = {"/",        "/devices", "/sessions",  "/events",
                                                    "/certificates", "/policy", "/approvals", "/nas"};

bool is_page(std::string_view path) {
  for (std::string_view page : kPages)
    if (path == page) return true;
  // /devices/{name}: one more segment, percent-encoded by the browser.
  constexpr std::string_view devices = "/devices/";
  return path.size() > devices.size() && path.starts_with(devices) &&
         path.find('/', devices.size()) == std::string_view::npos;
}

// RFC 3986 §2.3 unreserved characters and '/' stay; the rest is %XX, so `next` is one
// query value that cannot carry a second parameter or a scheme.
std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

HttpResponse with_headers(HttpResponse response, Caching caching = Caching::none) {
  add_security_headers(response, caching);
  return response;
}

HttpResponse error(int status, const std::string& reason) {
  return with_headers(admin::error_response(status, reason));
}

HttpResponse method_not_allowed(const char* allow) {
  HttpResponse response = error(405, "method not allowed");
  response.headers.emplace_back("Allow", allow);
  return response;
}

bool is_safe_method(const std::string& method) { return method == "GET" || method == "HEAD"; }

}  // namespace

std::string cookie_value(const HttpRequest& request, std::string_view name) {
  const std::string* header = request.header("cookie");
  if (header == nullptr) return {};
  std::string_view rest(*header);
  // cookie-string = cookie-pair *( ";" SP cookie-pair ); repeated headers were joined with ", ".
  while (!rest.empty()) {
    const auto end = rest.find_first_of(";,");
    std::string_view pair = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
  }
  return {};
}

Console::Console(bool tls, SessionLimits limits) : tls_(tls), sessions_(limits) {}

bool Console::owns(std::string_view path) {
  return path == kSessionPath || path == "/signin" || path.starts_with(kAssetPrefix) || is_page(path);
}

std::string Console::cookie_name() const { return tls_ ? "__Host-portcullis_session" : "portcullis_session"; }

std::string Console::session_cookie(const std::string& value, bool clear) const {
  // RFC 6265bis §4.1.2: HttpOnly keeps it from script; SameSite=Strict keeps other sites'
  // requests from carrying it; "__Host-" needs Secure, Path=/ and no Domain.
  std::string cookie = cookie_name() + "=" + value + "; Path=/; HttpOnly; SameSite=Strict";
  if (tls_) cookie += "; Secure";
  cookie += clear ? "; Max-Age=0" : "; Max-Age=43200";
  return cookie;
}

std::optional<ConsoleSession> Console::session_of(const HttpRequest& request, ca::UnixTime now) {
  const std::string id = cookie_value(request, cookie_name());
  if (id.empty()) return std::nullopt;
  return sessions_.find(id, now);
}

// Fetch Metadata (W3C) and Origin (RFC 6454 §7): a browser names the page a request comes
// from; ours is the admin listener itself. A client that sends neither (curl) is no
// browser, and so carries no ambient cookie from another site.
std::optional<std::string> Console::cross_site_refusal(const HttpRequest& request) const {
  if (const std::string* site = request.header("sec-fetch-site"); site != nullptr && *site != "same-origin")
    return "cross-site request refused (Sec-Fetch-Site: " + admin::checked_text(*site, "Sec-Fetch-Site", 0, 64) + ")";
  if (const std::string* origin = request.header("origin")) {
    const std::string* host = request.header("host");
    const std::string own = std::string(tls_ ? "https://" : "http://") + (host ? *host : "");
    if (host == nullptr || *origin != own) return "cross-origin request refused (Origin does not match Host)";
  }
  return std::nullopt;
}

HttpResponse Console::serve(const HttpRequest& request, AdminApi& api) {
  if (owns(request.path))
    return handle(request, [&api](std::string_view token) { return api.actor_for_token(token); }, ca::now_unix());
  HttpResponse response = api.handle(request);
  if (request.path != "/metrics") add_security_headers(response, Caching::none);
  return response;
}

AdminApi::CookieAuth Console::authenticate_api(const HttpRequest& request, ca::UnixTime now) {
  auto session = session_of(request, now);
  if (!session) return {};
  if (is_safe_method(request.method)) return {session->actor, std::nullopt};
  if (auto refusal = cross_site_refusal(request)) return {std::nullopt, refusal};
  const std::string* csrf = request.header("x-csrf-token");
  if (csrf == nullptr || !csrf_matches(*session, *csrf))
    return {std::nullopt, std::string("missing or wrong X-CSRF-Token for this console session")};
  return {session->actor, std::nullopt};
}

HttpResponse Console::handle(const HttpRequest& request, const TokenCheck& check_token, ca::UnixTime now) {
  try {
    if (request.path == kSessionPath) return session_route(request, check_token, now);
    if (request.path.starts_with(kAssetPrefix)) return asset(request);
    return page(request, now);
  } catch (const admin::ApiError& e) {
    return error(e.status(), e.what());
  } catch (const std::exception& e) {
    spdlog::error("console: {} {} failed: {}", request.method, request.path, e.what());
    return error(500, "internal error");
  }
}

HttpResponse Console::page(const HttpRequest& request, ca::UnixTime now) {
  if (!is_safe_method(request.method)) return method_not_allowed("GET, HEAD");
  // /signin is open; every other page needs the cookie, else 303 to sign-in and back.
  if (request.path != "/signin" && !session_of(request, now)) {
    HttpResponse redirect = error(303, "sign in first");
    redirect.headers.emplace_back("Location", "/signin?next=" + percent_encode(request.target));
    return redirect;
  }
  const Asset* index = find_asset("index.html");
  if (index == nullptr) return error(404, "the console was not built (PORTCULLIS_CONSOLE=OFF)");
  HttpResponse response;
  response.content_type = std::string(index->content_type);
  response.body.assign(index->bytes.begin(), index->bytes.end());
  return with_headers(std::move(response));
}

HttpResponse Console::asset(const HttpRequest& request) const {
  if (!is_safe_method(request.method)) return method_not_allowed("GET, HEAD");
  const std::string_view name = std::string_view(request.path).substr(kAssetPrefix.size());
  const Asset* found = name == "index.html" ? nullptr : find_asset(name);
  if (found == nullptr) return error(404, "no such asset");
  HttpResponse response;
  response.headers.emplace_back("ETag", std::string(found->etag));
  // RFC 9110 §13.1.2: a matching If-None-Match gets 304 and no body.
  if (const std::string* match = request.header("if-none-match"); match && *match == found->etag) {
    response.status = 304;
    response.content_type = std::string(found->content_type);
    return with_headers(std::move(response), Caching::revalidate);
  }
  response.content_type = std::string(found->content_type);
  response.body.assign(found->bytes.begin(), found->bytes.end());
  return with_headers(std::move(response), Caching::revalidate);
}

HttpResponse Console::session_route(const HttpRequest& request, const TokenCheck& check_token, ca::UnixTime now) {
  if (request.method == "POST") return sign_in(request, check_token, now);
  if (request.method != "GET" && request.method != "DELETE") return method_not_allowed("GET, POST, DELETE");
  const std::string id = cookie_value(request, cookie_name());
  auto session = id.empty() ? std::nullopt : sessions_.find(id, now);
  if (!session) return error(401, "not signed in");
  if (request.method == "GET")
    return with_headers(admin::json_response(200, json{{"actor", session->actor}, {"csrf", session->csrf}}));
  if (auto refusal = cross_site_refusal(request)) return error(403, *refusal);
  const std::string* csrf = request.header("x-csrf-token");
  if (csrf == nullptr || !csrf_matches(*session, *csrf))
    return error(403, "missing or wrong X-CSRF-Token for this console session");
  sessions_.remove(id);
  HttpResponse response;
  response.status = 204;
  response.headers.emplace_back("Set-Cookie", session_cookie("", true));
  return with_headers(std::move(response));
}

HttpResponse Console::sign_in(const HttpRequest& request, const TokenCheck& check_token, ca::UnixTime now) {
  // A forged sign-in would put a victim's browser in the forger's session: same checks.
  if (auto refusal = cross_site_refusal(request)) return error(403, *refusal);
  const json body = admin::parse_body(request, {"token"}, false);
  const auto token = admin::string_field(body, "token");
  if (!token || token->empty()) return error(400, "token is required");
  const auto actor = check_token(*token);
  if (!actor) {
    spdlog::warn("console: sign-in with a wrong token from {}", request.remote_address);
    return error(401, "wrong admin token");
  }
  auto issued = sessions_.create(*actor, now);
  spdlog::info("console: {} signed in from {}", *actor, request.remote_address);
  HttpResponse response = admin::json_response(200, json{{"actor", issued.session.actor}, {"csrf", issued.session.csrf}});
  response.headers.emplace_back("Set-Cookie", session_cookie(issued.id, false));
  return with_headers(std::move(response));
}

}  // namespace portcullis::app::console
