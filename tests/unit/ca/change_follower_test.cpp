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
#include <map>
#include <mutex>
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
// What another node committed reaches this node's observers (its Disconnect-Requests, its
// CRL) once per change of state: not again when the change is re-applied, and not for
// this node's own changes, which its Registry put in the index before the follower came.
TEST_F(TwoNodes, FollowedRevocationsAndDisablesReachTheObserversOnce) {
  const Device d = a->create_device({"laptop", "", "", {}}, "t");
  const auto cert = make_record();
  const auto local = make_record();
  a->record_issuance(device_id_ref(d.id), cert, "t");
  a->record_issuance(device_id_ref(d.id), local, "t");
  const std::int64_t from = b->change_feed()->last_change();
  index_b.load(*b);
  std::mutex m;
  std::vector<std::string> revoked;
  std::vector<bool> devices;
  ChangeFollowerSettings settings;
  settings.wait = std::chrono::milliseconds(50);
  settings.on_revoked = [&](const std::vector<CertificateRecord>& certs) {
    std::lock_guard lock(m);
    for (const auto& c : certs) revoked.push_back(c.serial_hex);
  };
  settings.on_device_change = [&](const Device& changed) {
    std::lock_guard lock(m);
    devices.push_back(changed.enabled);
  };
  ChangeFollower follower(*b, *b->change_feed(), index_b, from, settings);
  EXPECT_FALSE(follower.caught_up_at()) << "no round yet";

  // B's own revocation: its Registry marks the index before the follower reads the change.
  b->revoke(local.serial_hex, RevocationReason::superseded, 0, "b");
  index_b.mark_revoked(local.serial_hex, now_unix(), RevocationReason::superseded);
  a->revoke(cert.serial_hex, RevocationReason::key_compromise, 0, "a");
  a->set_device_enabled(d.id, false, "a");
  const auto heard = [&](std::size_t n) {
    return time_until([&] {
      std::lock_guard lock(m);
      return revoked.size() >= 1 && devices.size() >= n;
    });
  };
  ASSERT_TRUE(heard(1));
  a->set_device_enabled(d.id, true, "a");
  ASSERT_TRUE(heard(2));
  follower.catch_up();  // re-applies the same changes: nothing turns, nothing is reported
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::lock_guard lock(m);
  EXPECT_EQ(revoked, std::vector<std::string>{cert.serial_hex});
  EXPECT_EQ(devices, (std::vector<bool>{false, true}));
  ASSERT_TRUE(follower.caught_up_at());
  EXPECT_LT(Clock::now() - *follower.caught_up_at(), std::chrono::seconds(1));
}

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

// A change sequence the test writes by hand: which numbers are committed, and when.
class FakeFeed : public ChangeFeed {
 public:
  void commit(std::int64_t seq, const std::string& serial_hex) {
    std::lock_guard lock(mutex_);
    changes_[seq] = LedgerChange{seq, std::string(kChangeCertificate), serial_hex};
  }
  std::vector<LedgerChange> changes_after(std::int64_t after, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    std::vector<LedgerChange> out;
    for (auto it = changes_.upper_bound(after); it != changes_.end() && out.size() < limit; ++it)
      out.push_back(it->second);
    return out;
  }
  std::int64_t last_change() override {
    std::lock_guard lock(mutex_);
    return changes_.empty() ? 0 : changes_.rbegin()->first;
  }
  bool wait_for_change(std::chrono::milliseconds timeout) override {
    std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(5)));
    return false;
  }

 private:
  std::mutex mutex_;
  std::map<std::int64_t, LedgerChange> changes_;
};

// The follower's clock, moved by the test alone.
struct FakeClock {
  std::mutex mutex;
  Clock::time_point now = Clock::now();
  void advance(std::chrono::milliseconds by) {
    std::lock_guard lock(mutex);
    now += by;
  }
  Clock::time_point read() {
    std::lock_guard lock(mutex);
    return now;
  }
};

class FollowerOnAFakeFeed : public ::testing::Test {
 protected:
  ChangeFollowerSettings settings() {
    ChangeFollowerSettings s;
    s.gap_patience = std::chrono::seconds(10);
    s.wait = std::chrono::milliseconds(5);
    s.clock = [this] { return clock.read(); };
    return s;
  }
  // A certificate committed to the ledger but not (yet) in node B's index.
  std::string issue() {
    const auto cert = make_record();
    ledger->record_issuance(device_id_ref(device.id), cert, "t");
    return cert.serial_hex;
  }

  LedgerBackend backend{LedgerBackendKind::sqlite};
  std::unique_ptr<Ledger> ledger = backend.open();
  Device device = ledger->create_device({"fake", "", "", {}}, "t");
  IdentityIndex index_b;
  FakeFeed feed;
  FakeClock clock;
};

// Seq 10 rolled back long ago; seq 12 is a change still committing while 13 is
// committed. Passing the old gap at 10 must not pass the young one at 12.
TEST_F(FollowerOnAFakeFeed, AnOldGapDoesNotLetTheFollowerPassAYoungOne) {
  index_b.load(*ledger);   // the device
  for (std::int64_t seq = 1; seq <= 9; ++seq) feed.commit(seq, issue());
  feed.commit(11, issue());
  ChangeFollower follower(*ledger, feed, index_b, 0, settings());
  follower.catch_up();
  EXPECT_EQ(follower.position(), 9);   // the gap at 10 is young
  clock.advance(std::chrono::seconds(11));
  feed.commit(13, issue());
  follower.catch_up();
  EXPECT_EQ(follower.position(), 11);  // 10 is old: passed; 12 was first seen just now
  const std::string late = issue();
  feed.commit(12, late);
  follower.catch_up();
  EXPECT_EQ(verdict(index_b, late), IdentityVerdict::good);
  EXPECT_EQ(follower.position(), 13);
}

// At start-up the newest committed number is read before the index is loaded; a lower
// number still committing then commits after the load and must still be applied.
TEST_F(FollowerOnAFakeFeed, ALowerNumberCommittingAfterTheLoadIsApplied) {
  for (std::int64_t seq = 1; seq <= 20; ++seq)
    if (seq != 19) feed.commit(seq, issue());
  const std::int64_t from = feed.last_change();
  index_b.load(*ledger);
  const std::string late = issue();
  feed.commit(19, late);
  ChangeFollower follower(*ledger, feed, index_b, from, settings());
  follower.catch_up();
  EXPECT_EQ(verdict(index_b, late), IdentityVerdict::good);
  EXPECT_EQ(follower.position(), 20);
}

}  // namespace
}  // namespace portcullis::ca
