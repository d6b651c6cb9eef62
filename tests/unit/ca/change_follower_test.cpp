// Two nodes on one PostgreSQL ledger: what node A commits (a revocation, a disable, a new
// certificate) reaches node B's in-memory index through the change feed within a second,
// and a node that was not listening catches up from the change sequence.
#include "ca/hex.hpp"
#include "ca/identity_index.hpp"
#include "ca/ledger/change_follower.hpp"
#include "ledger_backend.hpp"
#include "ledger_fixtures.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace portcullis::ca {
namespace {

using testing::device_id_ref;
using testing::LedgerBackend;
using testing::LedgerBackendKind;
using testing::make_record;
using Clock = std::chrono::steady_clock;

IdentityVerdict verdict(const IdentityIndex& index, const std::string& serial) {
  return index.by_serial(from_hex(serial), 1'500'000'000).verdict;
}

// How long until `done` holds (polled every 5 ms), or nullopt after 5 s.
template <class Done>
std::optional<std::chrono::milliseconds> time_until(Done done) {
  const auto start = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(5)) {
    if (done()) return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

class TwoNodes : public ::testing::Test {
 protected:
  LedgerBackend backend{LedgerBackendKind::postgresql};
  std::unique_ptr<Ledger> a = backend.open();
  std::unique_ptr<Ledger> b = backend.open();
  IdentityIndex index_b;
};

TEST_F(TwoNodes, SqliteHasNoChangeFeedAndPostgresqlHasOne) {
  LedgerBackend sqlite_side(LedgerBackendKind::sqlite);
  EXPECT_EQ(sqlite_side.open()->change_feed(), nullptr);
  ASSERT_NE(b->change_feed(), nullptr);
}

TEST_F(TwoNodes, ARevocationOnOneNodeReachesTheOtherWithinASecond) {
  const Device d = a->create_device({"laptop", "", "", {}}, "t");
  const auto cert = make_record();
  const auto kept = make_record();
  a->record_issuance(device_id_ref(d.id), cert, "t");
  a->record_issuance(device_id_ref(d.id), kept, "t");
  const std::int64_t from = b->change_feed()->last_change();
  index_b.load(*b);
  ASSERT_EQ(verdict(index_b, cert.serial_hex), IdentityVerdict::good);
  ChangeFollower follower(*b, *b->change_feed(), index_b, from);

  a->revoke(cert.serial_hex, RevocationReason::key_compromise, 0, "admin");
  const auto revoked = time_until([&] { return verdict(index_b, cert.serial_hex) == IdentityVerdict::revoked; });
  ASSERT_TRUE(revoked) << "node B never saw the revocation";
  EXPECT_LT(*revoked, std::chrono::seconds(1));

  a->set_device_enabled(d.id, false, "admin");
  const auto second = make_record();
  const Device other = a->create_device({"phone", "", "", {}}, "t");
  a->record_issuance(device_id_ref(other.id), second, "t");
  EXPECT_TRUE(time_until([&] { return verdict(index_b, second.serial_hex) == IdentityVerdict::good; }));
  EXPECT_TRUE(time_until([&] { return verdict(index_b, kept.serial_hex) == IdentityVerdict::device_disabled; }));
  EXPECT_EQ(index_b.stats().devices, 2u);
  EXPECT_TRUE(follower.healthy());
}

// The notifications only wake a node: one that was not listening (restart, dropped
// connection) applies every change from the sequence when it catches up.
TEST_F(TwoNodes, ANodeThatMissedTheNotificationsCatchesUpFromTheSequence) {
  const Device d = a->create_device({"fleet", "", "", {}}, "t");
  std::vector<CertificateRecord> certs;
  for (int i = 0; i < 5; ++i) {
    certs.push_back(make_record());
    a->record_issuance(device_id_ref(d.id), certs.back(), "t");
  }
  const std::int64_t from = b->change_feed()->last_change();
  index_b.load(*b);
  a->revoke_device(d.id, RevocationReason::cessation_of_operation, 0, "admin");   // nobody listening on B
  for (const auto& c : certs) EXPECT_EQ(verdict(index_b, c.serial_hex), IdentityVerdict::good);
  ChangeFollower follower(*b, *b->change_feed(), index_b, from);
  follower.catch_up();
  for (const auto& c : certs) EXPECT_EQ(verdict(index_b, c.serial_hex), IdentityVerdict::revoked);
  EXPECT_EQ(follower.position(), b->change_feed()->last_change());
}

// A change number taken by a transaction that rolled back leaves a gap: the follower
// waits for it (it might still commit) only for its patience, then moves on.
TEST_F(TwoNodes, AGapFromARolledBackTransactionIsSkippedAfterItsPatience) {
  const Device d = a->create_device({"gap", "", "", {}}, "t");
  const std::int64_t from = b->change_feed()->last_change();
  index_b.load(*b);
  backend.raw_exec("BEGIN; INSERT INTO portcullis_sync.changes (at, kind, key) VALUES (1, 'device', '0'); ROLLBACK");
  const auto cert = make_record();
  a->record_issuance(device_id_ref(d.id), cert, "t");
  ChangeFollowerSettings settings;
  settings.gap_patience = std::chrono::milliseconds(300);
  settings.wait = std::chrono::milliseconds(50);
  ChangeFollower follower(*b, *b->change_feed(), index_b, from, settings);
  // Applied at once, although the position waits at the gap…
  EXPECT_TRUE(time_until([&] { return verdict(index_b, cert.serial_hex) == IdentityVerdict::good; }));
  // …and passes it once the patience is over.
  EXPECT_TRUE(time_until([&] { return follower.position() == b->change_feed()->last_change(); }));
  EXPECT_EQ(b->change_feed()->last_change(), from + 2);
}

}  // namespace
}  // namespace portcullis::ca
