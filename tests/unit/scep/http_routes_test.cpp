// SCEP HTTP transport: operations, GET and POST PKIOperation, limits. Sub-paths
// (/scep/pkiclient.exe) are the mount's business: tests/unit/app/http/public_routes_test.cpp.
#include "scep/http_routes.hpp"
#include "ca/base64.hpp"
#include "scep_test_client.hpp"
#include "tests/unit/support/scratch_registry.hpp"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace portcullis::scep::testing {
namespace {

std::string base64(const ca::Bytes& in) { return ca::base64_encode(in); }

class ScepHttp : public ScepFixture {
 protected:
  void SetUp() override {
    ScepFixture::SetUp();
    routes_ = std::make_unique<HttpRoutes>(*enrollment_, *authority_, 64 * 1024);
  }
  void TearDown() override {
    routes_.reset();
    ScepFixture::TearDown();
  }
  HttpResponse get(const std::string& query) const {
    HttpRequest r;
    r.method = "GET";
    r.query = query;
    return routes_->handle(r);
  }
  HttpResponse post(const std::string& query, std::string body) const {
    HttpRequest r;
    r.method = "POST";
    r.query = query;
    r.body = std::move(body);
    r.content_type = "application/x-pki-message";
    return routes_->handle(r);
  }
  std::unique_ptr<HttpRoutes> routes_;
};

TEST_F(ScepHttp, GetCACapsWhateverTheMessage) {
  {
    for (const char* q : {"operation=GetCACaps", "operation=GetCACaps&message=CAIdentifier", "operation=GetCACaps&message="}) {
      const auto r = get(q);
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.content_type, "text/plain");
      EXPECT_NE(r.body.find("POSTPKIOperation\n"), std::string::npos);
      EXPECT_NE(r.body.find("SHA-256\n"), std::string::npos);
      EXPECT_NE(r.body.find("AES\n"), std::string::npos);
      EXPECT_NE(r.body.find("Renewal\n"), std::string::npos);
      EXPECT_NE(r.body.find("SCEPStandard\n"), std::string::npos);
    }
  }
}

// A degenerate certs-only PKCS#7 must hold the authority's RA, then its chain.
void expect_ra_then_chain(std::string_view der, const ca::Authority& authority) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ca::Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_TRUE(p7);
  STACK_OF(X509)* certs = p7->d.sign->cert;
  ASSERT_EQ(sk_X509_num(certs), 1 + static_cast<int>(authority.chain().size()));
  EXPECT_EQ(X509_cmp(sk_X509_value(certs, 0), authority.ra()), 0);
  EXPECT_EQ(X509_cmp(sk_X509_value(certs, 1), authority.issuing()), 0);
}

TEST_F(ScepHttp, GetCACertIsRaThenChain) {
  const auto r = get("operation=GetCACert&message=x");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/x-x509-ca-ra-cert");
  expect_ra_then_chain(r.body, *authority_);
}

// RFC 8894 §4.7: offered only while a rollover is staged; the answer is signed by the
// current RA over id-data and carries the next RA and CA chain.
TEST_F(ScepHttp, GetNextCACertOnlyWhileARolloverIsStaged) {
  EXPECT_EQ(get("operation=GetCACaps").body.find("GetNextCACert"), std::string::npos);
  EXPECT_EQ(get("operation=GetNextCACert").status, 404);

  ca::BootstrapOptions o;
  o.ca_dir = authority_->paths().dir;
  ca::stage_rollover(o, portcullis::testing::scratch_registry());
  const std::optional<ca::Authority> next = ca::Authority::load_staged(authority_->paths());
  ca::discard_rollover(authority_->paths());   // the answer is built from memory
  ASSERT_TRUE(next.has_value());
  routes_->set_next_ca(&*next);

  EXPECT_NE(get("operation=GetCACaps").body.find("GetNextCACert\n"), std::string::npos);
  EXPECT_EQ(post("operation=GetNextCACert", "").status, 405);
  const auto r = get("operation=GetNextCACert&message=ca");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/x-x509-next-ca-cert");

  const auto* p = reinterpret_cast<const unsigned char*>(r.body.data());
  ca::CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(r.body.size())));
  ASSERT_TRUE(cms);
  EXPECT_EQ(OBJ_obj2nid(CMS_get0_eContentType(cms.get())), NID_pkcs7_data);
  ca::X509StorePtr store(X509_STORE_new());
  ASSERT_EQ(X509_STORE_add_cert(store.get(), const_cast<X509*>(authority_->root())), 1);
  ca::BioPtr content(BIO_new(BIO_s_mem()));
  ASSERT_EQ(CMS_verify(cms.get(), nullptr, store.get(), nullptr, content.get(), CMS_BINARY), 1);
  STACK_OF(CMS_SignerInfo)* signer_infos = CMS_get0_SignerInfos(cms.get());
  ASSERT_EQ(sk_CMS_SignerInfo_num(signer_infos), 1);
  EXPECT_EQ(CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(signer_infos, 0), const_cast<X509*>(authority_->ra())), 0);

  char* data = nullptr;
  const long size = BIO_get_mem_data(content.get(), &data);
  expect_ra_then_chain(std::string_view(data, static_cast<std::size_t>(size)), *next);

  routes_->set_next_ca(nullptr);
  EXPECT_EQ(get("operation=GetCACaps").body.find("GetNextCACert"), std::string::npos);
  EXPECT_EQ(get("operation=GetNextCACert").status, 404);
}

TEST_F(ScepHttp, PkiOperationOverPostAndOverGet) {
  auto who = requester("http-1");
  RequestOptions o;
  o.transaction_id = "post-1";
  auto r = post("operation=PKIOperation", [&] {
    const ca::Bytes m = pkcs_req(who, "http-1", kStatic, o);
    return std::string(m.begin(), m.end());
  }());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/x-pki-message");
  Reply reply = open_reply(ca::Bytes(r.body.begin(), r.body.end()), authority_->ra(), who.cert.get(), who.key.get());
  EXPECT_EQ(reply.pki_status, "0");

  // GET with the '+' and '/' of standard base64 left unescaped, as macOS sends them.
  auto who2 = requester("http-2");
  o.transaction_id = "get-1";
  const std::string b64 = base64(pkcs_req(who2, "http-2", kStatic, o));
  r = get("operation=PKIOperation&message=" + b64);
  ASSERT_EQ(r.status, 200) << r.body;
  reply = open_reply(ca::Bytes(r.body.begin(), r.body.end()), authority_->ra(), who2.cert.get(), who2.key.get());
  EXPECT_EQ(reply.pki_status, "0");
}

TEST_F(ScepHttp, TransportErrorsAre4xx) {
  EXPECT_EQ(get("").status, 400);
  EXPECT_EQ(get("operation=Bogus").status, 400);
  EXPECT_EQ(get("operation=PKIOperation").status, 400);
  EXPECT_EQ(get("operation=PKIOperation&message=***").status, 400);
  EXPECT_EQ(post("operation=PKIOperation", "not a pkiMessage").status, 400);
  EXPECT_EQ(post("operation=PKIOperation", "").status, 400);
  EXPECT_EQ(post("operation=PKIOperation", std::string(64 * 1024 + 1, '\x30')).status, 413);
  EXPECT_EQ(get("operation=PKIOperation&message=" + std::string(100 * 1024, 'A')).status, 414);
  HttpRequest del;
  del.method = "DELETE";
  EXPECT_EQ(routes_->handle(del).status, 405);
  EXPECT_EQ(routes_->handle(del).allow, "GET, POST");
  EXPECT_EQ(certificate_count(), 0u);
}


// The peer's address reaches the refusal audit (its per-source limit), by POST and by GET.
TEST_F(ScepHttp, ARefusalIsAuditedWithThePeersAddress) {
  auto who = requester("peer");
  for (const bool by_post : {true, false}) {
    RequestOptions o;
    o.transaction_id = by_post ? "tx-post" : "tx-get";
    const ca::Bytes message = pkcs_req(who, "peer", "wrong-challenge", o);
    HttpRequest r;
    r.method = by_post ? "POST" : "GET";
    r.query = by_post ? "operation=PKIOperation" : "operation=PKIOperation&message=" + base64(message);
    if (by_post) r.body.assign(message.begin(), message.end());
    r.remote_address = by_post ? "192.0.2.44" : "2001:db8::44";
    const auto response = routes_->handle(r);
    ASSERT_EQ(response.status, 200) << response.body;
  }
  enrollment_->refusal_audit().flush();
  const auto rows = ledger_->audit({std::nullopt, std::string(ca::kRefusalAction), 10});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NE(rows[1].detail.find("transaction=tx-post from=192.0.2.44 "), std::string::npos) << rows[1].detail;
  EXPECT_NE(rows[0].detail.find("transaction=tx-get from=2001:db8::44 "), std::string::npos) << rows[0].detail;
}

// The default logger's lines captured while it lives; the previous logger restored after.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("captured", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
    logger->set_level(spdlog::level::info);
    logger->set_pattern("%v");
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::size_t lines_containing(std::string_view needle) const {
    std::istringstream in(out_.str());
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Malformed PKIOperations get no CertRep and no audit row, only a log line: per source, at
// most as many lines a minute as refusal rows; every request still counted.
TEST_F(ScepHttp, UnreadablePkiOperationLogLinesAreLimitedPerSource) {
  auto now = std::chrono::steady_clock::now();
  EnrollmentSettings settings;
  settings.refusals.rows_per_source_per_minute = 5;
  settings.refusals.background_writer = false;
  settings.refusals.clock = [&now] { return now; };
  routes_.reset();
  enrollment_ = std::make_unique<Enrollment>(*authority_, *issuer_, *registry_, settings);
  routes_ = std::make_unique<HttpRoutes>(*enrollment_, *authority_, 64 * 1024);

  CapturedLog log;
  const auto malformed_from = [&](const std::string& address) {
    HttpRequest r;
    r.method = "POST";
    r.query = "operation=PKIOperation";
    r.body = "not a pkiMessage\r\nscep: forged line";
    r.remote_address = address;
    EXPECT_EQ(routes_->handle(r).status, 400);
  };
  for (int i = 0; i < 30; ++i) malformed_from("192.0.2.9");
  for (int i = 0; i < 30; ++i) malformed_from("2001:db8:1:2::" + std::to_string(i + 1));   // one /64
  malformed_from("192.0.2.10");
  EXPECT_EQ(log.lines_containing("unreadable PKIOperation message"), 5u + 5u + 1u);
  EXPECT_EQ(log.lines_containing("from 192.0.2.9:"), 5u);
  EXPECT_EQ(enrollment_->counters().malformed, 61u);
  EXPECT_EQ(routes_->malformed_log_counters().seen, 61u);
  EXPECT_EQ(routes_->malformed_log_counters().suppressed, 50u);

  // The next minute: the summary of what was left out, and lines again.
  now += std::chrono::seconds(61);
  malformed_from("192.0.2.9");
  EXPECT_EQ(log.lines_containing("left out 25 unreadable PKIOperation log lines from 192.0.2.9 "), 1u);
  EXPECT_EQ(log.lines_containing("left out 25 unreadable PKIOperation log lines from 2001:db8:1:2::/64 "), 1u);
  EXPECT_EQ(log.lines_containing("from 192.0.2.9:"), 6u);
}

}  // namespace
}  // namespace portcullis::scep::testing
