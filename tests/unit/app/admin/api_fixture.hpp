// The admin API test fixture: AdminApi::handle driven with HttpRequest structs against a
// real CA, a real SQLite ledger, the identity index, Registry and Issuer (CaStackFixture).
// Shared by the API's test files.
#pragma once

#include "app/admin/api.hpp"
#include "app/admin/json.hpp"

#include "tests/unit/support/ca_stack_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/sha.h>

#include <memory>
#include <string>

namespace app = portcullis::app;
namespace ca = portcullis::ca;
using nlohmann::json;

using portcullis::testing::make_csr;

inline constexpr const char* kToken = "ops-token-0123456789";
inline constexpr const char* kCiToken = "ci-token-abcdef";

inline std::string sha256_hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  std::string hex = ca::to_hex(digest);
  for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return hex;
}

struct Reply {
  int status = 0;
  json body;
  app::HttpResponse raw;
};

struct Counts {
  std::size_t devices, certificates, audit;
  bool operator==(const Counts&) const = default;
};

class AdminApiTest : public portcullis::testing::CaStackFixture {
 protected:
  void SetUp() override {
    CaStackFixture::SetUp();
    api_ = std::make_unique<app::AdminApi>(
        *registry_, *issuer_,
        std::vector<app::AdminToken>{{"ops", sha256_hex(kToken)}, {"ci", sha256_hex(kCiToken)}});
  }
  void TearDown() override {
    api_.reset();
    CaStackFixture::TearDown();
  }

  Reply call(const std::string& method, const std::string& target, const std::string& body = "",
             const char* token = kToken) {
    app::HttpRequest r;
    r.method = method;
    r.target = target;
    auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    if (token != nullptr) r.headers["authorization"] = std::string("Bearer ") + token;
    if (!body.empty()) r.headers["content-type"] = "application/json";
    r.body = body;
    r.remote_address = "127.0.0.1";
    Reply reply;
    reply.raw = api_->handle(r);
    reply.status = reply.raw.status;
    reply.body = json::parse(reply.raw.body, nullptr, false);
    EXPECT_EQ(reply.raw.content_type, "application/json");
    EXPECT_FALSE(reply.body.is_discarded()) << reply.raw.body;
    if (reply.status >= 400) {
      EXPECT_TRUE(reply.body.contains("error")) << reply.raw.body;
    }
    return reply;
  }

  Counts counts() {
    return {ledger_->list_devices({}).size(), ledger_->certificate_count(), ledger_->audit({}).size()};
  }

  // `method target body` must be refused with `status`, writing nothing.
  void expect_refused(const std::string& method, const std::string& target, const std::string& body, int status) {
    const Counts before = counts();
    Reply reply = call(method, target, body);
    EXPECT_EQ(reply.status, status) << method << " " << target << " " << body << " -> " << reply.raw.body;
    EXPECT_TRUE(counts() == before) << method << " " << target << " wrote to the ledger";
  }

  json create_device(const std::string& name) {
    Reply reply = call("POST", "/api/v1/devices", json{{"name", name}}.dump());
    EXPECT_EQ(reply.status, 201) << reply.raw.body;
    return reply.body;
  }

  json issue(const std::string& device, bool create = true) {
    Reply reply = call("POST", "/api/v1/certificates",
                       json{{"csr", make_csr(device)}, {"device", device}, {"create_device", create}}.dump());
    EXPECT_EQ(reply.status, 201) << reply.raw.body;
    return reply.body;
  }

  ca::IdentityVerdict verdict(const std::string& serial) { return index_.by_serial_hex(serial, now()).verdict; }

  std::unique_ptr<app::AdminApi> api_;
};
