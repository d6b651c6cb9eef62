// The headers every console response carries (HTML, assets, and the API when a browser
// session calls it): a Content-Security-Policy that allows only our own script and style
// (no inline script, W3C CSP Level 3), no framing (clickjacking), no MIME sniffing, no
// Referer (device names and serials stay out of other sites' logs).
#pragma once

#include "app/http/types.hpp"

#include <string_view>

namespace portcullis::app::console {

inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'";

enum class Caching {
  none,        // HTML and API answers: Cache-Control: no-store (they name devices and sessions)
  revalidate,  // embedded assets: cached, checked against their ETag each time
};

// Adds the set; a header the response already has (e.g. its own Cache-Control) is kept.
void add_security_headers(HttpResponse& response, Caching caching);

}  // namespace portcullis::app::console
