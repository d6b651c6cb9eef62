// The console's routes through Console::handle and, for the cookie as API credentials,
// through AdminApi::handle with a real ledger (api_fixture.hpp).
#include "app/console/console.hpp"

#include "app/console/assets.hpp"
#include "tests/unit/app/admin/api_fixture.hpp"

#include <gtest/gtest.h>

#include <map>

namespace console = portcullis::app::console;

namespace {

constexpr ca::UnixTime kNow = 1'800'000'000;

app::HttpRequest request(const std::string& method, const std::string& target,
                         std::map<std::string, std::string> headers = {}, std::string body = "") {
  app::HttpRequest r;
  r.method = method;
  r.target = target;
  const auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  r.headers = std::move(headers);
  r.headers.emplace("host", "127.0.0.1:8443");
  r.body = std::move(body);
  r.remote_address = "127.0.0.1";
  return r;
}

std::string header(const app::HttpResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return "";
}

std::optional<std::string> check_token(std::string_view token) {
  if (token == "right-token") return std::string("api:ops");
  return std::nullopt;
}

struct SignedIn {
  std::string cookie;  // "name=value"
  std::string csrf;
  std::string set_cookie;
};

SignedIn sign_in(console::Console& c, std::map<std::string, std::string> extra = {}) {
  extra.emplace("content-type", "application/json");
  auto r = c.handle(request("POST", "/console/session", extra, R"({"token":"right-token"})"), check_token, kNow);
  EXPECT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  const std::string set_cookie = header(r, "Set-Cookie");
  return {set_cookie.substr(0, set_cookie.find(';')), body.at("csrf"), set_cookie};
}

TEST(ConsoleRoutes, PagesWithoutACookieRedirectToSignIn) {
  console::Console c(false);
  for (const std::string page : {"/", "/devices", "/devices/laptop%207", "/sessions", "/events", "/certificates",
                                 "/policy", "/approvals", "/nas"}) {
    auto r = c.handle(request("GET", page), check_token, kNow);
    EXPECT_EQ(r.status, 303) << page;
    EXPECT_EQ(header(r, "Location"), "/signin?next=" + (page == "/devices/laptop%207" ? "/devices/laptop%25207" : page));
    EXPECT_EQ(header(r, "Cache-Control"), "no-store");
  }
  auto r = c.handle(request("GET", "/devices?search=a&offset=50"), check_token, kNow);
  EXPECT_EQ(header(r, "Location"), "/signin?next=/devices%3Fsearch%3Da%26offset%3D50");
}

TEST(ConsoleRoutes, SignInSetsAnHttpOnlyStrictCookie) {
  console::Console c(false);
  auto wrong = c.handle(request("POST", "/console/session", {{"content-type", "application/json"}},
                                R"({"token":"wrong"})"),
                        check_token, kNow);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(header(wrong, "Set-Cookie"), "");
  auto s = sign_in(c);
  EXPECT_TRUE(s.set_cookie.starts_with("portcullis_session=")) << s.set_cookie;
  EXPECT_NE(s.set_cookie.find("; Path=/; HttpOnly; SameSite=Strict"), std::string::npos) << s.set_cookie;
  EXPECT_EQ(s.set_cookie.find("Secure"), std::string::npos);
  auto page = c.handle(request("GET", "/devices/laptop-7", {{"cookie", "a=b; " + s.cookie}}), check_token, kNow);
  if (console::embedded_assets().empty()) {
    EXPECT_EQ(page.status, 404);  // built with PORTCULLIS_CONSOLE=OFF
  } else {
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("/assets/app.js"), std::string::npos);
  }
  EXPECT_NE(header(page, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  auto me = c.handle(request("GET", "/console/session", {{"cookie", s.cookie}}), check_token, kNow);
  EXPECT_EQ(json::parse(me.body), (json{{"actor", "api:ops"}, {"csrf", s.csrf}}));
}

TEST(ConsoleRoutes, UnderTlsTheCookieIsSecureAndHostPrefixed) {
  console::Console c(true);
  auto s = sign_in(c, {{"origin", "https://127.0.0.1:8443"}});
  EXPECT_TRUE(s.set_cookie.starts_with("__Host-portcullis_session=")) << s.set_cookie;
  EXPECT_NE(s.set_cookie.find("; Secure"), std::string::npos);
  EXPECT_EQ(s.set_cookie.find("Domain"), std::string::npos);
  // http:// is another origin than the TLS listener's.
  auto r = c.handle(request("POST", "/console/session",
                            {{"content-type", "application/json"}, {"origin", "http://127.0.0.1:8443"}},
                            R"({"token":"right-token"})"),
                    check_token, kNow);
  EXPECT_EQ(r.status, 403);
}

TEST(ConsoleRoutes, StateChangesNeedTheCsrfTokenAndOurOrigin) {
  console::Console c(false);
  auto s = sign_in(c);
  auto auth = [&](std::map<std::string, std::string> h, const std::string& method = "POST") {
    h.emplace("cookie", s.cookie);
    return c.authenticate_api(request(method, "/api/v1/devices/x/disable", h), kNow);
  };
  EXPECT_EQ(auth({}, "GET").actor, "api:ops");
  EXPECT_TRUE(auth({}).refusal);
  EXPECT_TRUE(auth({{"x-csrf-token", s.csrf + "x"}}).refusal);
  EXPECT_TRUE(auth({{"x-csrf-token", s.csrf}, {"origin", "http://evil.example"}}).refusal);
  EXPECT_TRUE(auth({{"x-csrf-token", s.csrf}, {"origin", "null"}}).refusal);
  EXPECT_TRUE(auth({{"x-csrf-token", s.csrf}, {"sec-fetch-site", "cross-site"}}).refusal);
  EXPECT_TRUE(auth({{"x-csrf-token", s.csrf}, {"sec-fetch-site", "same-site"}}).refusal);
  const auto ok = auth({{"x-csrf-token", s.csrf}, {"origin", "http://127.0.0.1:8443"}, {"sec-fetch-site", "same-origin"}});
  EXPECT_EQ(ok.actor, "api:ops");
  EXPECT_FALSE(ok.refusal);
  // No cookie: nothing to say (the API answers 401 on its own).
  auto none = c.authenticate_api(request("POST", "/api/v1/devices/x/disable", {{"x-csrf-token", s.csrf}}), kNow);
  EXPECT_FALSE(none.actor);
  EXPECT_FALSE(none.refusal);
}

TEST(ConsoleRoutes, SignOutNeedsTheCsrfTokenAndEndsTheSession) {
  console::Console c(false);
  auto s = sign_in(c);
  EXPECT_EQ(c.handle(request("DELETE", "/console/session", {{"cookie", s.cookie}}), check_token, kNow).status, 403);
  auto out = c.handle(request("DELETE", "/console/session", {{"cookie", s.cookie}, {"x-csrf-token", s.csrf}}),
                      check_token, kNow);
  EXPECT_EQ(out.status, 204);
  EXPECT_NE(header(out, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(c.handle(request("GET", "/console/session", {{"cookie", s.cookie}}), check_token, kNow).status, 401);
  EXPECT_EQ(c.handle(request("GET", "/devices", {{"cookie", s.cookie}}), check_token, kNow).status, 303);
}

TEST(ConsoleRoutes, AssetsCarryAnETagAndAnswer304) {
  console::Console c(false);
  EXPECT_EQ(c.handle(request("GET", "/assets/nothing.js"), check_token, kNow).status, 404);
  EXPECT_EQ(c.handle(request("GET", "/assets/index.html"), check_token, kNow).status, 404);
  for (const auto& asset : console::embedded_assets()) {
    if (asset.name == "index.html") continue;
    auto r = c.handle(request("GET", "/assets/" + std::string(asset.name)), check_token, kNow);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, asset.content_type);
    EXPECT_EQ(header(r, "ETag"), asset.etag);
    EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
    auto again = c.handle(request("GET", "/assets/" + std::string(asset.name), {{"if-none-match", std::string(asset.etag)}}),
                          check_token, kNow);
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
  }
}

// The cookie as the API's credentials: Console::serve in front of AdminApi::handle, as the
// admin listener runs them.
class ConsoleApiTest : public AdminApiTest {
 protected:
  app::HttpResponse with_cookie(app::AdminApi& api, const std::string& method, const std::string& target,
                                std::map<std::string, std::string> headers = {}) {
    headers.emplace("cookie", session_.cookie);
    if (method != "GET") headers.emplace("content-type", "application/json");
    return console_->serve(request(method, target, headers, method == "GET" ? "" : "{}"), api);
  }
  void connect(app::AdminApi& api) {
    api.set_cookie_auth([c = console_](const app::HttpRequest& r, ca::UnixTime now) { return c->authenticate_api(r, now); });
  }
  void sign_in_through(app::AdminApi& api) {
    auto r = console_->serve(request("POST", "/console/session", {{"content-type", "application/json"}},
                                json{{"token", kToken}}.dump()),
                             api);
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string set_cookie = header(r, "Set-Cookie");
    session_ = {set_cookie.substr(0, set_cookie.find(';')), json::parse(r.body).at("csrf").get<std::string>(),
                set_cookie};
  }
  std::shared_ptr<console::Console> console_ = std::make_shared<console::Console>(false);
  SignedIn session_;
};

TEST_F(ConsoleApiTest, TheCookieStandsForTheTokenWithCsrfOnChanges) {
  connect(*api_);
  ASSERT_EQ(call("POST", "/api/v1/devices", R"({"name":"laptop-7"})").status, 201);
  sign_in_through(*api_);
  EXPECT_EQ(with_cookie(*api_, "GET", "/api/v1/devices").status, 200);
  auto refused = with_cookie(*api_, "POST", "/api/v1/devices/laptop-7/disable");
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_TRUE(registry_->ledger().find_device_by_name("laptop-7")->enabled);
  auto done = with_cookie(*api_, "POST", "/api/v1/devices/laptop-7/disable", {{"x-csrf-token", session_.csrf}});
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(header(done, "Cache-Control"), "no-store");
  EXPECT_FALSE(registry_->ledger().find_device_by_name("laptop-7")->enabled);
  // The audit actor is the token's name, as with the bearer token.
  EXPECT_EQ(call("GET", "/api/v1/audit?target=laptop-7").body["entries"][0]["actor"], "api:ops");
}

TEST_F(ConsoleApiTest, ASessionEndsWhenItsTokenIsNoLongerConfigured) {
  connect(*api_);
  sign_in_through(*api_);
  // A reload (SIGHUP) builds a new API over the same console, without the "ops" token.
  app::AdminApi reloaded(*registry_, *issuer_, std::vector<app::AdminToken>{{"ci", sha256_hex(kCiToken)}});
  connect(reloaded);
  EXPECT_EQ(with_cookie(reloaded, "GET", "/api/v1/devices").status, 401);
  EXPECT_EQ(with_cookie(*api_, "GET", "/api/v1/devices").status, 200);
}

}  // namespace
