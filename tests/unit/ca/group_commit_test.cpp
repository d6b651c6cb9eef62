// Group commit (ca/ledger/sqlite_group_commit.hpp): units queued behind a commit share the next
// transaction, a failing unit is rolled back alone, and a lost transaction fails every
// unit in it. Batches are formed deterministically by holding the connection's mutex
// while the callers queue up.
#include "ca/ledger/ledger.hpp"
#include "ca/ledger/sqlite_group_commit.hpp"
#include "ledger_fixtures.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

namespace portcullis::ca {
namespace {

using testing::TempDir;

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("CREATE TABLE t (v INTEGER PRIMARY KEY)");
  }

  std::function<void()> insert(int v) {
    return [this, v] {
      auto stmt = db.prepare("INSERT INTO t (v) VALUES (?1)");
      stmt.bind(1, static_cast<std::int64_t>(v));
      stmt.run();
    };
  }

  std::set<std::int64_t> rows() {
    std::set<std::int64_t> out;
    auto stmt = db.prepare("SELECT v FROM t");
    while (stmt.step()) out.insert(stmt.column_int64(0));
    return out;
  }

  // Starts one caller per unit while the connection is busy, waits until all but the
  // first (which leads and waits for the mutex) are queued, then lets them run.
  std::vector<std::future<void>> run_together(const std::vector<std::function<void()>>& units) {
    std::vector<std::future<void>> done;
    {
      std::lock_guard busy(mutex);
      for (const auto& unit : units) {
        done.push_back(std::async(std::launch::async, [this, unit] { commits.run(unit); }));
        // One at a time: the first leads with only itself, the others queue in order.
        const std::size_t queued = done.size() - 1;
        while (!commits.leading() || commits.waiting() != queued) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
    }
    for (auto& f : done) f.wait();
    return done;
  }

  TempDir dir;
  sqlite::Connection db = sqlite::Connection::open(dir.file("group.db"), true);
  std::mutex mutex;
  sqlite::GroupCommit commits{mutex, db};
};

TEST_F(GroupCommitTest, ALoneUnitCommitsAtOnce) {
  commits.run(insert(1));
  EXPECT_EQ(rows(), (std::set<std::int64_t>{1}));
  EXPECT_EQ(commits.transactions(), 1u);
}

TEST_F(GroupCommitTest, UnitsQueuedBehindACommitShareTheNextTransaction) {
  auto done = run_together({insert(1), insert(2), insert(3), insert(4)});
  for (auto& f : done) EXPECT_NO_THROW(f.get());
  EXPECT_EQ(rows(), (std::set<std::int64_t>{1, 2, 3, 4}));
  // The first led alone; the three queued behind it went in one transaction.
  EXPECT_EQ(commits.transactions(), 2u);
}

// The lead is handed from batch to batch: callers arriving without pause from 8 threads
// are all committed and none waits forever. (That queued units share a transaction is
// shown deterministically above; here it depends on the scheduler.)
TEST_F(GroupCommitTest, EveryCallerReturnsWhenTheLeadPassesFromBatchToBatch) {
  constexpr int kThreads = 8, kEach = 100;
  std::vector<std::future<void>> done;
  for (int t = 0; t < kThreads; ++t) {
    done.push_back(std::async(std::launch::async, [this, t] {
      for (int i = 0; i < kEach; ++i) commits.run(insert(t * kEach + i));
    }));
  }
  for (auto& f : done) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    EXPECT_NO_THROW(f.get());
  }
  EXPECT_EQ(rows().size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_LE(commits.transactions(), static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_FALSE(commits.leading());
  EXPECT_EQ(commits.waiting(), 0u);
}

TEST_F(GroupCommitTest, AFailingUnitIsRolledBackAloneAndItsCallerGetsTheError) {
  const auto half_then_throw = [this] {
    insert(20)();  // written, then undone by its savepoint
    throw std::runtime_error("refused");
  };
  auto done = run_together({insert(1), insert(10), half_then_throw, insert(30), insert(10)});
  EXPECT_NO_THROW(done[0].get());
  EXPECT_NO_THROW(done[1].get());
  EXPECT_THROW(done[2].get(), std::runtime_error);
  EXPECT_NO_THROW(done[3].get());
  EXPECT_THROW(done[4].get(), sqlite::SqliteError);  // the PRIMARY KEY unit 10 already holds
  EXPECT_EQ(rows(), (std::set<std::int64_t>{1, 10, 30}));
  EXPECT_EQ(commits.transactions(), 2u);
}

TEST_F(GroupCommitTest, ATransactionLostMidBatchFailsEveryUnitInIt) {
  // What SQLite does on an I/O error or a full disk: the whole transaction is rolled back
  // under the batch. The units before it must not be reported as recorded.
  const auto lose_transaction = [this] {
    db.exec("ROLLBACK");
    throw std::runtime_error("disk I/O error");
  };
  auto done = run_together({insert(1), insert(2), lose_transaction, insert(3)});
  EXPECT_NO_THROW(done[0].get());
  EXPECT_THROW(done[1].get(), std::runtime_error);
  EXPECT_THROW(done[2].get(), std::runtime_error);
  EXPECT_THROW(done[3].get(), std::runtime_error);
  EXPECT_EQ(rows(), (std::set<std::int64_t>{1}));
  EXPECT_EQ(commits.transactions(), 1u);
  commits.run(insert(4));  // and the next batch works
  EXPECT_EQ(rows(), (std::set<std::int64_t>{1, 4}));
}

// Through the ledger: concurrent enrollments, every SCEP transaction sent twice by two
// threads at once. Exactly one of each pair is recorded; the other gets
// DuplicateTransaction, its certificate row rolled back with it.
TEST(GroupCommitLedger, DuplicateTransactionsInsideBatchesAreRefusedOneByOne) {
  TempDir dir;
  auto ledger = open_sqlite_ledger(dir.file("ledger.db"));
  constexpr int kPairs = 200;
  std::vector<ScepTransactionKey> keys;
  for (int i = 0; i < kPairs; ++i) keys.push_back({testing::random_hex(16), testing::random_hex(32)});
  std::vector<std::vector<std::string>> recorded(8);
  std::vector<int> duplicates(8, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      // Threads 2k and 2k+1 walk the same quarter of the keys.
      for (int i = (t / 2) * (kPairs / 4); i < (t / 2 + 1) * (kPairs / 4); ++i) {
        auto record = testing::make_record();
        DeviceRef ref = testing::device_name_ref("device-" + std::to_string(i), /*create_if_missing=*/true);
        ref.scep_transaction = keys[static_cast<std::size_t>(i)];
        try {
          ledger->record_issuance(ref, record, "scep");
          recorded[static_cast<std::size_t>(t)].push_back(record.serial_hex);
        } catch (const DuplicateTransaction&) {
          ++duplicates[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> serials;
  for (const auto& v : recorded) serials.insert(v.begin(), v.end());
  int refused = 0;
  for (int d : duplicates) refused += d;
  EXPECT_EQ(serials.size(), static_cast<std::size_t>(kPairs));
  EXPECT_EQ(refused, kPairs);
  EXPECT_EQ(ledger->certificate_count(), static_cast<std::size_t>(kPairs));
  for (const auto& serial : serials) EXPECT_TRUE(ledger->find_certificate(serial)) << serial;
  for (const auto& key : keys) EXPECT_TRUE(ledger->find_scep_transaction(key));
  AuditFilter issues;
  issues.action = "issue";
  issues.limit = 10 * kPairs;
  EXPECT_EQ(ledger->audit(issues).size(), static_cast<std::size_t>(kPairs));
  EXPECT_EQ(ledger->integrity_check(), "ok");
}

// The one-read check every new enrollment makes before the detailed lookups: true for an
// answered transaction and for a held request, false otherwise, through the read connection.
TEST(GroupCommitLedger, ScepTransactionKnownCoversAnsweredAndHeldRequests) {
  TempDir dir;
  auto ledger = open_sqlite_ledger(dir.file("ledger.db"));
  const ScepTransactionKey answered{testing::random_hex(16), testing::random_hex(32)};
  const ScepTransactionKey held{testing::random_hex(16), testing::random_hex(32)};
  EXPECT_FALSE(ledger->scep_transaction_known(answered));
  EXPECT_FALSE(ledger->scep_transaction_known(held));

  DeviceRef ref = testing::device_name_ref("answered", /*create_if_missing=*/true);
  ref.scep_transaction = answered;
  ledger->record_issuance(ref, testing::make_record(), "scep");
  NewScepRequest request;
  request.transaction = held;
  request.device_name = "held";
  request.create_device = true;
  request.profile = "device";
  request.subject = "CN=held";
  request.csr_der = {0x30, 0x00};
  ledger->create_scep_request(request, "scep");

  EXPECT_TRUE(ledger->scep_transaction_known(answered));
  EXPECT_TRUE(ledger->scep_transaction_known(held));
  // The requester is part of the key: the same transactionID from another requester is new.
  EXPECT_FALSE(ledger->scep_transaction_known({answered.transaction_id, testing::random_hex(32)}));
}

// The SCEP lookups go through a second connection on a file; an in-memory ledger has only
// one database, so they must read it through the writer's connection.
TEST(GroupCommitLedger, AnInMemoryLedgerAnswersItsLookupsFromItsOneConnection) {
  auto ledger = open_sqlite_ledger(":memory:");
  auto record = testing::make_record();
  DeviceRef ref = testing::device_name_ref("in-memory", /*create_if_missing=*/true);
  const ScepTransactionKey key{testing::random_hex(16), testing::random_hex(32)};
  ref.scep_transaction = key;
  ledger->record_issuance(ref, record, "scep");
  ASSERT_TRUE(ledger->find_certificate(record.serial_hex));
  EXPECT_EQ(ledger->find_scep_transaction(key), record.serial_hex);
  EXPECT_FALSE(ledger->find_scep_request(key));
  EXPECT_FALSE(ledger->find_challenge(testing::random_hex(32)));
}

}  // namespace
}  // namespace portcullis::ca
