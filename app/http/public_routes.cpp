// Public routes: CRL and OCSP for relying parties (see public_routes.hpp for the table).
// Dispatch order: exact public paths first, then mounted prefixes (SCEP later), else 404.
#include "app/http/public_routes.hpp"

#include "ca/base64.hpp"
#include "ca/text_codec.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace portcullis::app {
namespace {

constexpr const char* kOcspPrefix = "/ocsp/";

HttpResponse plain(int status, std::string text) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(text) + "\n", {}};
}

HttpResponse method_not_allowed(const char* allow) {
  HttpResponse response = plain(405, "method not allowed");
  response.headers.emplace_back("Allow", allow);
  return response;
}

// The media type without parameters, lower-cased ("Application/OCSP-Request; x=y" ->
// "application/ocsp-request"), for comparisons (RFC 9110 §8.3.1: case-insensitive).
std::string media_type(const std::string* header) {
  if (header == nullptr) return {};
  std::string type = header->substr(0, header->find(';'));
  type.erase(std::remove_if(type.begin(), type.end(), [](unsigned char c) { return std::isspace(c) != 0; }),
             type.end());
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return type;
}

bool has_prefix(const std::string& path, const std::string& prefix) {
  return path == prefix || (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
                            path[prefix.size()] == '/');
}

}  // namespace

PublicRoutes::PublicRoutes(ca::CrlPublisher& crl, const ca::OcspResponder& ocsp) : crl_(crl), ocsp_(ocsp) {}

void PublicRoutes::mount(std::string prefix, HttpHandler handler) {
  mounts_.emplace_back(std::move(prefix), std::move(handler));
}

HttpResponse PublicRoutes::handle(const HttpRequest& request) const {
  const std::string& path = request.path;
  const bool get = request.method == "GET";
  if (path == "/crl" || path == "/crl.pem") {
    if (!get) return method_not_allowed("GET");
    return crl(request, path == "/crl.pem");
  }
  if (path == "/ocsp") {
    if (request.method != "POST") return method_not_allowed("POST");
    return ocsp_post(request);
  }
  if (path.compare(0, std::char_traits<char>::length(kOcspPrefix), kOcspPrefix) == 0) {
    if (!get) return method_not_allowed("GET");
    // Everything after "/ocsp/" is the request: base64 contains '/', which some clients
    // (OpenSSL among them) leave unescaped.
    return ocsp_get(path.substr(std::char_traits<char>::length(kOcspPrefix)));
  }
  for (const auto& [prefix, handler] : mounts_)
    if (has_prefix(path, prefix)) return handler(request);
  return plain(404, "not found");
}

HttpResponse PublicRoutes::crl(const HttpRequest&, bool pem) const {
  const ca::UnixTime t = ca::now_unix();
  try {
    crl_.refresh_if_due(t);
  } catch (const std::exception& e) {
    // Keep serving the previous CRL: it is still valid until its nextUpdate.
    spdlog::error("CRL refresh failed: {}", e.what());
  }
  auto current = crl_.current();
  if (!current) return plain(503, "CRL not available yet");
  HttpResponse response;
  if (pem) {
    response.content_type = "application/x-pem-file";
    response.body = current->pem;
  } else {
    response.content_type = "application/pkix-crl";  // RFC 2585 §4.2
    response.body.assign(current->der.begin(), current->der.end());
  }
  // Caches may keep it until shortly before we would publish a fresh one anyway.
  const ca::UnixTime max_age = std::max<ca::UnixTime>(0, std::min<ca::UnixTime>(current->next_update - t, 3600));
  response.headers.emplace_back("Cache-Control", "public, max-age=" + std::to_string(max_age));
  return response;
}

HttpResponse PublicRoutes::ocsp_post(const HttpRequest& request) const {
  // RFC 6960 A.1: the POST body is the DER OCSPRequest with this content type. A missing
  // type is tolerated (some embedded clients omit it); a different one is not ours.
  const std::string type = media_type(request.header("content-type"));
  if (!type.empty() && type != "application/ocsp-request")
    return plain(415, "expected Content-Type: application/ocsp-request");
  return ocsp_answer(request.body);
}

HttpResponse PublicRoutes::ocsp_get(const std::string& encoded) const {
  // A.1: GET {url}/{url-encoding of base-64 encoding of the DER encoding of the OCSPRequest}.
  // Undecodable input is answered like any other garbage: an OCSP malformedRequest.
  auto base64 = ca::percent_decode(encoded);
  std::optional<std::string> der;
  if (base64) der = ca::base64_decode(*base64, ca::Base64Alphabet::standard);
  return ocsp_answer(der ? *der : std::string());
}

HttpResponse PublicRoutes::ocsp_answer(const std::string& request_der) const {
  std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(request_der.data()), request_der.size());
  ca::Bytes der = ocsp_.respond(bytes, ca::now_unix());
  HttpResponse response;
  response.content_type = "application/ocsp-response";
  response.body.assign(der.begin(), der.end());
  // Answers change the moment a certificate is revoked and may echo a nonce: no caching.
  response.headers.emplace_back("Cache-Control", "no-cache, no-store");
  return response;
}

HttpHandler scep_handler(const scep::HttpRoutes& routes) {
  return [&routes](const HttpRequest& request) {
    const std::string* content_type = request.header("content-type");
    const scep::HttpResponse answer = routes.handle(scep::HttpRequest{
        request.method, request.query, request.body, content_type ? *content_type : std::string(),
        request.remote_address});
    HttpResponse response{answer.status, answer.content_type, answer.body, {}};
    if (!answer.allow.empty()) response.headers.emplace_back("Allow", answer.allow);
    return response;
  };
}

}  // namespace portcullis::app
