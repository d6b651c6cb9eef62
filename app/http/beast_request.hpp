// Beast's parsed HTTP/1.1 request as the handlers see it (app::HttpRequest), and the
// header limit the server parses with. One place for both: the server and the fuzz target
// that feeds Beast's parser (tests/fuzz/http_request.cpp) must translate alike.
#pragma once

#include "app/http/types.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <string>

namespace portcullis::app {

// A request line plus headers beyond this is refused with 431 (RFC 6585 §5).
inline constexpr std::uint32_t kHttpHeaderLimit = 16 * 1024;

// Path and query split at the first '?', header names lower-cased, repeated fields joined
// with ", " (RFC 9110 §5.3), the body moved out of `req`.
HttpRequest to_app_request(boost::beast::http::request<boost::beast::http::string_body>&& req,
                           const std::string& remote);

}  // namespace portcullis::app
