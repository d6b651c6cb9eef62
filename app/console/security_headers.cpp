#include "app/console/security_headers.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace portcullis::app::console {

namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

void add_missing(HttpResponse& response, std::string_view name, std::string_view value) {
  for (const auto& [n, v] : response.headers)
    if (same_name(n, name)) return;
  response.headers.emplace_back(std::string(name), std::string(value));
}

}  // namespace

void add_security_headers(HttpResponse& response, Caching caching) {
  add_missing(response, "Content-Security-Policy", kContentSecurityPolicy);
  add_missing(response, "X-Content-Type-Options", "nosniff");
  add_missing(response, "X-Frame-Options", "DENY");
  add_missing(response, "Referrer-Policy", "no-referrer");
  add_missing(response, "Cache-Control", caching == Caching::none ? "no-store" : "no-cache");
}

}  // namespace portcullis::app::console
