#include "app/console/security_headers.hpp"

#include <gtest/gtest.h>

#include <map>

namespace app = portcullis::app;
namespace console = portcullis::app::console;

namespace {

std::multimap<std::string, std::string> headers_of(const app::HttpResponse& r) {
  return {r.headers.begin(), r.headers.end()};
}

TEST(ConsoleSecurityHeaders, HtmlAndApiAnswersGetTheWholeSet) {
  app::HttpResponse r;
  console::add_security_headers(r, console::Caching::none);
  const auto h = headers_of(r);
  EXPECT_EQ(h.find("Content-Security-Policy")->second,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'self'");
  EXPECT_EQ(h.find("X-Content-Type-Options")->second, "nosniff");
  EXPECT_EQ(h.find("X-Frame-Options")->second, "DENY");
  EXPECT_EQ(h.find("Referrer-Policy")->second, "no-referrer");
  EXPECT_EQ(h.find("Cache-Control")->second, "no-store");
  EXPECT_EQ(r.headers.size(), 5u);
}

TEST(ConsoleSecurityHeaders, AssetsAreRevalidated) {
  app::HttpResponse r;
  console::add_security_headers(r, console::Caching::revalidate);
  EXPECT_EQ(headers_of(r).find("Cache-Control")->second, "no-cache");
}

TEST(ConsoleSecurityHeaders, AHeaderTheAnswerAlreadyHasIsKept) {
  app::HttpResponse r;
  r.headers.emplace_back("cache-control", "no-store, private");
  console::add_security_headers(r, console::Caching::revalidate);
  EXPECT_EQ(headers_of(r).count("Cache-Control"), 0u);
  EXPECT_EQ(headers_of(r).find("cache-control")->second, "no-store, private");
  EXPECT_EQ(r.headers.size(), 5u);
}

}  // namespace
