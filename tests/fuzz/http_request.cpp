// The HTTP/1.1 request parser as app/http/server.cpp runs it: Beast's request_parser with
// our header limit (16 KiB, 431) and body limit (http.max_body_bytes default, 413), fed the
// way a socket delivers (chunks of a size chosen by the first input octet, then EOF),
// pipelined requests one after another, and each parsed request translated for the
// handlers by the server's own app/http/beast_request.hpp. The Session itself is not
// separable from its socket, so its parse loop is reproduced here with the same limits.
#include "app/http/beast_request.hpp"
#include "app/http/server.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cstring>
#include <optional>

namespace http = boost::beast::http;

namespace {

const std::size_t kBodyLimit = portcullis::app::HttpServerOptions{}.max_body_bytes;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = 1 + data[0] * 16u;
  const char* in = reinterpret_cast<const char*>(data + 1);
  std::size_t left = size - 1;
  boost::beast::flat_buffer buffer;
  for (int request = 0; request < 8; ++request) {
    std::optional<http::request_parser<http::string_body>> parser;
    parser.emplace();
    parser->header_limit(portcullis::app::kHttpHeaderLimit);
    parser->body_limit(kBodyLimit);
    boost::system::error_code ec;
    for (;;) {
      if (buffer.size() > 0) {
        const std::size_t used = parser->put(buffer.data(), ec);
        buffer.consume(used);
        if (!ec && parser->is_done()) break;
        if (ec && ec != http::error::need_more) break;
        ec = {};
      }
      if (left == 0) {
        parser->put_eof(ec);
        break;
      }
      const std::size_t n = std::min(chunk, left);
      auto space = buffer.prepare(n);
      std::memcpy(space.data(), in, n);
      buffer.commit(n);
      in += n;
      left -= n;
    }
    if (ec || !parser->is_done()) return 0;
    const auto& header = parser->get();
    (void)header.keep_alive();
    (void)header.version();
    (void)header[http::field::expect];
    const portcullis::app::HttpRequest r = portcullis::app::to_app_request(parser->release(), "fuzz");
    if (r.body.size() > kBodyLimit) __builtin_trap();
  }
  return 0;
}
