// PublicRoutes (/crl, /crl.pem, /ocsp POST and GET, mounts) over a real CA, ledger, CRL
// publisher and OCSP responder (the codecs: tests/unit/ca/text_codec_test.cpp).
#include "app/http/public_routes.hpp"
#include "ca/base64.hpp"

#include "tests/unit/support/ca_stack_fixture.hpp"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>

namespace app = portcullis::app;
namespace ca = portcullis::ca;

namespace {

std::string base64(const std::string& der) {
  return ca::base64_encode({reinterpret_cast<const std::uint8_t*>(der.data()), der.size()});
}

std::string url_encode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

class PublicRoutesTest : public portcullis::testing::CaStackFixture {
 protected:
  void SetUp() override {
    CaStackFixture::SetUp();
    crl_ = std::make_unique<ca::CrlPublisher>(*authority_, *ledger_, ca::CrlSettings{});
    ocsp_ = std::make_unique<ca::OcspResponder>(*authority_, index_);
    routes_ = std::make_unique<app::PublicRoutes>(*crl_, *ocsp_);
    registry_->on_revocation([this](const auto&) { crl_->regenerate(now()); });
  }
  void TearDown() override {
    routes_.reset();
    ocsp_.reset();
    crl_.reset();
    CaStackFixture::TearDown();
  }

  app::HttpResponse call(const std::string& method, const std::string& path, const std::string& body = "",
                         const std::string& content_type = "") {
    app::HttpRequest r;
    r.method = method;
    r.target = r.path = path;
    r.body = body;
    if (!content_type.empty()) r.headers["content-type"] = content_type;
    return routes_->handle(r);
  }

  ca::X509Ptr issue(const std::string& device) {
    ca::IssueRequest request;
    request.csr = portcullis::testing::make_csr(device);
    request.names.subject = {{"CN", device}};
    request.device.name = device;
    request.device.create_if_missing = true;
    request.actor = "test";
    return std::move(issuer_->issue(request).certificate);
  }

  // A DER OCSPRequest for `cert` (SHA-1 CertID, as most clients send) and that CertID.
  std::pair<std::string, ca::OcspCertIdPtr> ocsp_request(const X509* cert) {
    ca::OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), cert, authority_->issuing()));
    ca::OcspRequestPtr req(OCSP_REQUEST_new());
    OCSP_request_add0_id(req.get(), OCSP_CERTID_dup(id.get()));
    unsigned char* der = nullptr;
    int len = i2d_OCSP_REQUEST(req.get(), &der);
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return {out, std::move(id)};
  }

  // The certificate status (V_OCSP_CERTSTATUS_*) in a successful response, or -1.
  static int cert_status(const app::HttpResponse& response, OCSP_CERTID* id) {
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.content_type, "application/ocsp-response");
    const auto* p = reinterpret_cast<const unsigned char*>(response.body.data());
    ca::OcspResponsePtr parsed(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response.body.size())));
    if (!parsed || OCSP_response_status(parsed.get()) != OCSP_RESPONSE_STATUS_SUCCESSFUL) return -1;
    ca::OcspBasicRespPtr basic(OCSP_response_get1_basic(parsed.get()));
    int status = -1, reason = 0;
    ASN1_GENERALIZEDTIME *revoked_at = nullptr, *this_update = nullptr, *next_update = nullptr;
    if (OCSP_resp_find_status(basic.get(), id, &status, &reason, &revoked_at, &this_update, &next_update) != 1) return -1;
    return status;
  }

  std::unique_ptr<ca::CrlPublisher> crl_;
  std::unique_ptr<ca::OcspResponder> ocsp_;
  std::unique_ptr<app::PublicRoutes> routes_;
};

TEST_F(PublicRoutesTest, CrlInDerAndPem) {
  ca::X509Ptr cert = issue("crl-dev");
  registry_->revoke(ca::serial_hex(cert.get()), ca::RevocationReason::key_compromise, now(), "test");

  app::HttpResponse der = call("GET", "/crl");
  ASSERT_EQ(der.status, 200);
  EXPECT_EQ(der.content_type, "application/pkix-crl");
  const auto* p = reinterpret_cast<const unsigned char*>(der.body.data());
  ca::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.body.size())));
  ASSERT_TRUE(crl);
  X509_REVOKED* entry = nullptr;
  EXPECT_EQ(X509_CRL_get0_by_serial(crl.get(), &entry, X509_get_serialNumber(cert.get())), 1);

  app::HttpResponse pem = call("GET", "/crl.pem");
  EXPECT_EQ(pem.status, 200);
  EXPECT_EQ(pem.content_type, "application/x-pem-file");
  EXPECT_EQ(pem.body.rfind("-----BEGIN X509 CRL-----", 0), 0u);

  EXPECT_EQ(call("POST", "/crl").status, 405);
  EXPECT_EQ(call("GET", "/crl/extra").status, 404);
  EXPECT_EQ(call("GET", "/").status, 404);
}

TEST_F(PublicRoutesTest, OcspPostAndGetAnswerGoodThenRevoked) {
  ca::X509Ptr cert = issue("ocsp-dev");
  auto [request, id] = ocsp_request(cert.get());
  EXPECT_EQ(cert_status(call("POST", "/ocsp", request, "application/ocsp-request"), id.get()),
            V_OCSP_CERTSTATUS_GOOD);

  registry_->revoke(ca::serial_hex(cert.get()), ca::RevocationReason::superseded, now(), "test");
  EXPECT_EQ(cert_status(call("POST", "/ocsp", request, "application/ocsp-request"), id.get()),
            V_OCSP_CERTSTATUS_REVOKED);

  // A.1 GET: base64, then URL-encoded; with the padding, without it, and with '/' raw.
  const std::string b64 = base64(request);
  EXPECT_EQ(cert_status(call("GET", "/ocsp/" + url_encode(b64)), id.get()), V_OCSP_CERTSTATUS_REVOKED);
  std::string unpadded = b64;
  while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
  EXPECT_EQ(cert_status(call("GET", "/ocsp/" + unpadded), id.get()), V_OCSP_CERTSTATUS_REVOKED);
}

TEST_F(PublicRoutesTest, OcspGarbageGetsMalformedRequest) {
  for (const app::HttpResponse& response :
       {call("GET", "/ocsp/%%%not-base64"), call("GET", "/ocsp/aGVsbG8="), call("POST", "/ocsp", "junk")}) {
    ASSERT_EQ(response.status, 200);
    EXPECT_EQ(response.content_type, "application/ocsp-response");
    const auto* p = reinterpret_cast<const unsigned char*>(response.body.data());
    ca::OcspResponsePtr parsed(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response.body.size())));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(OCSP_response_status(parsed.get()), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  }
  EXPECT_EQ(call("POST", "/ocsp", "junk", "text/plain").status, 415);
  EXPECT_EQ(call("GET", "/ocsp").status, 405);
  EXPECT_EQ(call("PUT", "/ocsp/abc").status, 405);
}

TEST_F(PublicRoutesTest, MountedPrefixesGetTheirRequests) {
  routes_->mount("/scep", [](const app::HttpRequest& r) { return app::HttpResponse{200, "text/plain", "scep " + r.path, {}}; });
  EXPECT_EQ(call("GET", "/scep").body, "scep /scep");
  EXPECT_EQ(call("GET", "/scep/pkiclient.exe").body, "scep /scep/pkiclient.exe");
  EXPECT_EQ(call("GET", "/scepter").status, 404);
}

}  // namespace
