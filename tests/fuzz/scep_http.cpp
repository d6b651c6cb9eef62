// The SCEP HTTP route (RFC 8894 §4.1): operation and message from the query, the GET
// message's base64 (RFC 8894 §4.2 leaves its alphabet and escaping to the client), the
// POST body, methods and content types, through to Enrollment with a real CA and ledger.
// Input: one octet choosing method and content type (bits 0-3), then the query up to the
// first '\n', then the body. With bit 4 the body is a PKCSReq's envelope content (a CSR),
// encrypted to the RA and signed on the way in (support/scep_wrap.hpp), so that
// enrollments reach the challenge check and issuance with the CA made at startup.
// A 500 means something threw that the route did not expect.
#include "scep/enrollment.hpp"
#include "scep/http_routes.hpp"
#include "support/ca_stack.hpp"
#include "support/scep_wrap.hpp"

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

using namespace portcullis;

namespace {

scep::HttpRoutes& routes() {
  static scep::HttpRoutes* r = [] {
    spdlog::set_level(spdlog::level::off);
    auto& stack = fuzz::CaStack::get();
    scep::EnrollmentSettings settings;
    // The recording instance's (make_corpus.py kStaticChallenge), so recorded CSRs' challengePassword passes.
    settings.static_challenge = "DAF94A9192BDDFECA38BC3D90B13C8F7";
    auto* enrollment = new scep::Enrollment(stack.authority(), stack.issuer(), stack.registry(), settings);
    return new scep::HttpRoutes(*enrollment, stack.authority(), 64 * 1024);
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* const methods[] = {"GET", "POST", "HEAD", "PUT"};
  static const char* const types[] = {"application/x-pki-message", "application/octet-stream", "", "text/plain"};
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t nl = rest.find('\n');
  scep::HttpRequest request;
  request.method = methods[data[0] & 3];
  request.content_type = types[(data[0] >> 2) & 3];
  request.remote_address = "192.0.2.7";
  request.query = std::string(rest.substr(0, nl));
  if (nl != std::string_view::npos) request.body = std::string(rest.substr(nl + 1));
  if ((data[0] & 0x10) != 0 && !request.body.empty()) {
    const auto wrapped = fuzz::wrap_for_ra(
        std::span(reinterpret_cast<const std::uint8_t*>(request.body.data()), request.body.size()), "19");
    request.body.assign(wrapped.begin(), wrapped.end());
  }
  const scep::HttpResponse response = routes().handle(request);
  if (response.status == 500 || response.status < 200 || response.status > 599) __builtin_trap();
  (void)scep::decode_get_message(request.query);
  return 0;
}
