// Refused SCEP requests and the ledger: what an unauthenticated sender can make the
// server write. Refusals are batched (no sync each), limited per source and bounded;
// the CertRep the sender gets is the same whatever the audit does with it.
#include "scep_test_client.hpp"
#include "tests/unit/support/sync_counting_vfs.hpp"

#include <sqlite3.h>

#include <optional>

namespace portcullis::scep::testing {
namespace {

constexpr const char* kSourceA = "198.51.100.7";
constexpr const char* kSourceB = "203.0.113.9";

class ScepRefusalAudit : public ScepFixture {
 protected:
  void SetUp() override {
    vfs_.emplace();   // before the fixture opens the ledger
    ScepFixture::SetUp();
    who_ = requester("intruder");
  }
  void TearDown() override {
    ScepFixture::TearDown();
    vfs_.reset();
  }

  // An Enrollment whose audit writes only on flush(), on a clock the test moves.
  void use_settings(RefusalAuditSettings refusals) {
    refusals.background_writer = false;
    refusals.clock = [this] { return clock_; };
    EnrollmentSettings settings;
    settings.static_challenge = kStatic;
    settings.refusals = std::move(refusals);
    enrollment_.reset();
    enrollment_ = std::make_unique<Enrollment>(*authority_, *issuer_, *registry_, settings);
  }

  Reply refuse(std::string_view source) {
    RequestOptions o;
    o.transaction_id = "tx-refused-" + std::to_string(++sent_);
    Reply r = open_reply(enrollment_->handle(pkcs_req(who_, "intruder", "not-the-challenge", o), source),
                               authority_->ra(), who_.cert.get(), who_.key.get());
    // What the sender gets never depends on the audit.
    EXPECT_EQ(r.pki_status, "2");
    EXPECT_EQ(r.fail_info, "2");
    EXPECT_EQ(r.transaction_id, o.transaction_id);
    return r;
  }

  std::vector<ca::AuditEntry> rows(const char* action, std::optional<std::string> target = std::nullopt) {
    return ledger_->audit({std::move(target), std::string(action), 100000});
  }
  std::size_t rows_from(const std::string& source) {
    std::size_t n = 0;
    for (const auto& row : rows(ca::kRefusalAction))
      if (row.detail.find(" from=" + source + " ") != std::string::npos) ++n;
    return n;
  }

  std::optional<portcullis::testing::SyncCountingVfs> vfs_;
  Requester who_;
  int sent_ = 0;
  std::chrono::steady_clock::time_point clock_{std::chrono::hours(1)};
};

TEST_F(ScepRefusalAudit, ManyRefusalsCostAConstantNumberOfSyncs) {
  constexpr int kRefusals = 40;
  const std::uint64_t before = vfs_->syncs();
  for (int i = 0; i < kRefusals; ++i) refuse(kSourceA);
  enrollment_->refusal_audit().flush();
  const std::uint64_t syncs = vfs_->syncs() - before;
  // The background writer may have written once before the flush; one sync each.
  EXPECT_LE(syncs, 3u) << "refusals synced the ledger " << syncs << " times";
  EXPECT_LE(enrollment_->refusal_audit().counters().transactions, 2u);
  EXPECT_EQ(enrollment_->counters().rejected, static_cast<std::uint64_t>(kRefusals));
  // Under the default per-source limit of 20 a minute: 20 rows, the rest counted.
  EXPECT_EQ(rows_from(kSourceA), 20u);
  EXPECT_EQ(enrollment_->counters().refusals_suppressed, static_cast<std::uint64_t>(kRefusals - 20));
}

TEST_F(ScepRefusalAudit, OverThePerSourceLimitRefusalsAreCountedAndSummarised) {
  RefusalAuditSettings s;
  s.rows_per_source_per_minute = 3;
  use_settings(s);
  for (int i = 0; i < 8; ++i) refuse(kSourceA);
  for (int i = 0; i < 2; ++i) refuse(kSourceB);
  enrollment_->refusal_audit().flush();
  EXPECT_EQ(rows_from(kSourceA), 3u);
  EXPECT_EQ(rows_from(kSourceB), 2u);
  EXPECT_TRUE(rows(ca::kRefusalSummaryAction).empty());   // A's minute is not over yet
  const EnrollmentCounters c = enrollment_->counters();
  EXPECT_EQ(c.rejected, 10u);
  EXPECT_EQ(c.rejected_by_fail_info[static_cast<std::size_t>(FailInfo::bad_request)], 10u);
  EXPECT_EQ(c.refusals_suppressed, 5u);
  EXPECT_EQ(enrollment_->refusal_audit().counters().refused, 10u);

  // The minute is over: one summary row for A, with a sample of what was suppressed.
  clock_ += std::chrono::seconds(61);
  enrollment_->refusal_audit().flush();
  const auto summaries = rows(ca::kRefusalSummaryAction);
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].target, kSourceA);
  EXPECT_EQ(summaries[0].actor, "scep");
  EXPECT_NE(summaries[0].detail.find("suppressed 5 refusals from 198.51.100.7"), std::string::npos)
      << summaries[0].detail;
  EXPECT_NE(summaries[0].detail.find("wrong challenge"), std::string::npos) << summaries[0].detail;
  // A new minute: A's refusals are written again.
  refuse(kSourceA);
  enrollment_->refusal_audit().flush();
  EXPECT_EQ(rows_from(kSourceA), 4u);
}

TEST_F(ScepRefusalAudit, AnIpv6SourceIsLimitedByItsSlash64) {
  RefusalAuditSettings s;
  s.rows_per_source_per_minute = 2;
  use_settings(s);
  refuse("2001:db8:1:2::1");
  refuse("2001:db8:1:2:aaaa::2");
  refuse("2001:db8:1:2:ffff:ffff:ffff:ffff");   // same /64: counted only
  refuse("2001:db8:1:3::1");                    // another /64
  enrollment_->refusal_audit().flush();
  EXPECT_EQ(rows(ca::kRefusalAction).size(), 3u);
  EXPECT_EQ(enrollment_->counters().refusals_suppressed, 1u);
}

TEST_F(ScepRefusalAudit, RefusalRowsInTheLedgerAreBounded) {
  RefusalAuditSettings s;
  s.rows_per_source_per_minute = 1000;
  s.max_rows = 10;
  use_settings(s);
  registry_->create_device({"kept", "", "", {}}, "test");   // an operator's row: never pruned
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 7; ++i) refuse(kSourceA);
    enrollment_->refusal_audit().flush();
    EXPECT_LE(rows(ca::kRefusalAction).size(), 10u);
  }
  const auto kept = rows(ca::kRefusalAction);
  ASSERT_EQ(kept.size(), 10u);
  // The newest are kept.
  EXPECT_NE(kept.front().detail.find("transaction=tx-refused-35 "), std::string::npos) << kept.front().detail;
  EXPECT_NE(kept.back().detail.find("transaction=tx-refused-26 "), std::string::npos) << kept.back().detail;
  EXPECT_EQ(rows("device.create", "kept").size(), 1u);
  EXPECT_EQ(enrollment_->counters().rejected, 35u);

  // Nothing else may be deleted from the audit log.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/ledger.db").c_str(), &db), SQLITE_OK);
  const int rc = sqlite3_exec(db, "DELETE FROM audit WHERE action = 'device.create'", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(rc, SQLITE_CONSTRAINT);
  EXPECT_EQ(rows("device.create", "kept").size(), 1u);
}

TEST_F(ScepRefusalAudit, RowsStillQueuedAreWrittenWhenTheEnrollmentStops) {
  RefusalAuditSettings s;
  s.rows_per_source_per_minute = 2;
  use_settings(s);
  for (int i = 0; i < 5; ++i) refuse(kSourceA);
  enrollment_.reset();
  EXPECT_EQ(rows_from(kSourceA), 2u);
  ASSERT_EQ(rows(ca::kRefusalSummaryAction).size(), 1u);   // the minute's summary, though it is not over
}

}  // namespace
}  // namespace portcullis::scep::testing
