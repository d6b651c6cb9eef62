// GET /api/v1/devices/{device}/profile/{apple|android|windows} through AdminApi::handle
// against a real CA and ledger: content types, no-store, the challenge it mints (stored
// hashed, bound to the device), and refusals that mint nothing.
#include "app/admin/api.hpp"
#include "scep/enrollment.hpp"

#include "tests/unit/support/ca_stack_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <memory>
#include <regex>

namespace app = portcullis::app;
namespace ca = portcullis::ca;
using nlohmann::json;

namespace {

constexpr const char* kToken = "mdm-token-0123456789";

std::string sha256_hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  std::string hex = ca::to_hex(digest);
  for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return hex;
}

std::string header(const app::HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

class AdminApiMdmTest : public portcullis::testing::CaStackFixture {
 protected:
  void SetUp() override {
    CaStackFixture::SetUp();
    api_ = make_api(authority_);
  }
  void TearDown() override {
    api_.reset();
    CaStackFixture::TearDown();
  }

  std::unique_ptr<app::AdminApi> make_api(const ca::Authority* authority) {
    return std::make_unique<app::AdminApi>(*registry_, *issuer_, std::vector<app::AdminToken>{{"mdm", sha256_hex(kToken)}},
                                           nullptr,
                                           app::MdmSettings{authority, "https://pki.example.net", "radius.example.net"});
  }

  app::HttpResponse get(const std::string& target, app::AdminApi* api = nullptr) {
    app::HttpRequest r;
    r.method = "GET";
    r.target = target;
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.headers["authorization"] = std::string("Bearer ") + kToken;
    r.remote_address = "127.0.0.1";
    return (api ? api : api_.get())->handle(r);
  }

  std::unique_ptr<app::AdminApi> api_;
};

TEST_F(AdminApiMdmTest, AppleProfileIsAMobileconfigWithABoundChallenge) {
  const app::HttpResponse r = get("/api/v1/devices/ipad-3/profile/apple?ssid=Corp%20Wi-Fi&wpa3=true");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/x-apple-aspen-config");
  EXPECT_EQ(header(r, "Cache-Control"), "no-store");
  EXPECT_NE(r.body.find("<string>https://pki.example.net/scep</string>"), std::string::npos);
  EXPECT_NE(r.body.find("<string>Corp Wi-Fi</string>"), std::string::npos);
  EXPECT_NE(r.body.find("<string>WPA3</string>"), std::string::npos);

  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.body, m, std::regex("<key>Challenge</key>\\s*<string>([0-9a-f]+)</string>")));
  const auto record = ledger_->find_challenge(portcullis::scep::challenge_hash(m[1].str()));
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->device_name, "ipad-3");
  EXPECT_TRUE(ledger_->find_device_by_name("ipad-3").has_value());   // created for the MDM
}

TEST_F(AdminApiMdmTest, WindowsThumbprintIsTheRootSha1) {
  const app::HttpResponse r = get("/api/v1/devices/laptop-1/profile/windows");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  const json doc = json::parse(r.body);
  const ca::Bytes der = ca::cert_to_der(authority_->root());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(der.data(), der.size(), md, &len, EVP_sha1(), nullptr), 1);
  EXPECT_EQ(doc.at("values").at("CAThumbprint"), ca::to_hex(std::span<const std::uint8_t>(md, len)));
  EXPECT_EQ(doc.at("values").at("ServerURL"), "https://pki.example.net/scep");
}

TEST_F(AdminApiMdmTest, RefusalsMintNothing) {
  auto refused = [&](const std::string& target, int status, app::AdminApi* api = nullptr) {
    const app::HttpResponse r = get(target, api);
    EXPECT_EQ(r.status, status) << target << " -> " << r.body;
    EXPECT_TRUE(ledger_->list_devices({}).empty()) << target << " wrote to the ledger";
  };
  refused("/api/v1/devices/ipad-4/profile/apple", 400);                      // ssid required
  refused("/api/v1/devices/ipad-4/profile/android?ssid=", 400);
  refused("/api/v1/devices/ipad-4/profile/apple?ssid=Corp&wpa3=yes", 400);
  refused("/api/v1/devices/ipad-4/profile/apple?ssid=Corp&profile=nope", 400);
  refused("/api/v1/devices/ipad-4/profile/apple?ssid=Corp&extra=1", 400);
  refused("/api/v1/devices/ipad-4/profile/apple?ssid=%07bell", 400);
  refused("/api/v1/devices/ipad-4/profile/palm?ssid=Corp", 404);
  refused("/api/v1/devices/99/profile/windows", 404);                        // unknown id
  const auto no_scep = make_api(nullptr);
  refused("/api/v1/devices/ipad-4/profile/windows", 404, no_scep.get());     // SCEP disabled
}

TEST_F(AdminApiMdmTest, DisabledDeviceGetsNoProfile) {
  ASSERT_EQ(get("/api/v1/devices/cam-1/profile/windows").status, 200);
  const auto device = ledger_->find_device_by_name("cam-1");
  ASSERT_TRUE(device.has_value());
  ledger_->set_device_enabled(device->id, false, "test");
  EXPECT_EQ(get("/api/v1/devices/cam-1/profile/windows").status, 409);
}

}  // namespace
