#include "app/http/beast_request.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <cctype>

namespace portcullis::app {

HttpRequest to_app_request(boost::beast::http::request<boost::beast::http::string_body>&& req,
                           const std::string& remote) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  auto q = out.target.find('?');
  out.path = out.target.substr(0, q);
  if (q != std::string::npos) out.query = out.target.substr(q + 1);
  for (const auto& field : req) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto [it, inserted] = out.headers.emplace(name, std::string(field.value()));
    // Repeated fields combine into one comma-separated value (RFC 9110 §5.3).
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  out.body = std::move(req.body());
  out.remote_address = remote;
  return out;
}

}  // namespace portcullis::app
