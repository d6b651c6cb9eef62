// No io thread waits for the disk: with the ledger writer stuck inside the ledger (as
// behind the SQLite group commit's fsync), the server still answers accounting and
// Access-Requests from memory; a full write queue refuses accounting (no answer, RFC 2866
// §2) instead of blocking; once the ledger moves again every queued row is written.
#include "blocking_ledger.hpp"
#include "server_fixture.hpp"
#include "tests/unit/support/forwarding_ledger.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <limits>

namespace portcullis::radius::testing {
namespace {

using namespace std::chrono_literals;

class LedgerWriterTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    blocking_ = std::make_unique<BlockingLedger>(*ledger_);
    flush_writes_ = false;
  }
  void TearDown() override {
    blocking_->release();
    server_.reset();  // drains its writer into the ledger first
    blocking_.reset();
    ServerFixture::TearDown();
  }

  void make_blocked_server(ServerOptions options = {}) {
    server_.reset();
    server_ = std::make_unique<Server>(nas_, tls_, *blocking_, std::move(options));
    blocking_->hold();
  }

  // exchange(), but failing (instead of hanging) if the server does not answer in time.
  std::optional<Packet> exchange_within(const Packet& request, SocketKind socket, std::chrono::seconds limit = 5s) {
    auto reply = std::async(std::launch::async, [&] { return exchange(request, socket); });
    if (reply.wait_for(limit) != std::future_status::ready) {
      ADD_FAILURE() << "the server did not answer while the ledger was blocked";
      blocking_->release();
    }
    return reply.get();
  }

  Packet acct(const std::string& session) {
    Packet p;
    p.code = Code::AccountingRequest;
    p.identifier = next_id_++;
    p.add_integer(attr::AcctStatusType, 1);
    p.add(attr::AcctSessionId, session);
    p.add(attr::CallingStationId, "02-00-00-00-00-09");
    return p;
  }

  bool in_ledger(const std::string& session) {
    for (const auto& r : ledger_->list_radius_sessions(false, 100))
      if (r.acct_session_id == session) return true;
    return false;
  }

  std::unique_ptr<BlockingLedger> blocking_;
};

TEST_F(LedgerWriterTest, AccountingAndAccessRequestsAreAnsweredWhileTheLedgerIsBlocked) {
  make_blocked_server();
  auto first = exchange_within(acct("blocked-1"), SocketKind::acct);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->code, Code::AccountingResponse);
  // The writer is now inside the ledger, stuck; the next ones still get their answer.
  for (int i = 0; i < 100 && blocking_->waiting() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(blocking_->waiting(), 1);
  auto second = exchange_within(acct("blocked-2"), SocketKind::acct);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->code, Code::AccountingResponse);
  EXPECT_EQ(server_->live_sessions().size(), 2u);  // memory is up to date

  // A whole EAP-TLS authentication, and a reject (its audit row is a ledger write too).
  eap::testing::Client client = issue("while-blocked");
  eap::testing::EapTlsPeer peer(peer_options(&client));
  auto accepted = std::async(std::launch::async, [&] { return run_conversation(peer); });
  ASSERT_EQ(accepted.wait_for(10s), std::future_status::ready) << "EAP-TLS waited for the ledger";
  EXPECT_EQ(accepted.get().final.code, Code::AccessAccept);
  Packet plain = access_request({});
  plain.attributes.erase(std::remove_if(plain.attributes.begin(), plain.attributes.end(),
                                        [](const Attribute& a) { return a.type == attr::EapMessage; }),
                         plain.attributes.end());
  auto rejected = exchange_within(plain, SocketKind::auth);
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->code, Code::AccessReject);

  EXPECT_FALSE(in_ledger("blocked-1"));
  blocking_->release();
  server_->ledger_writer().flush();
  EXPECT_TRUE(in_ledger("blocked-1"));
  EXPECT_TRUE(in_ledger("blocked-2"));
  ca::AuditFilter filter;
  bool audited = false;
  for (const auto& e : ledger_->audit(filter)) audited = audited || e.action == "radius.reject";
  EXPECT_TRUE(audited);
  EXPECT_EQ(counter("ledger_write_failed"), 0u);
}

TEST_F(LedgerWriterTest, AFullQueueRefusesAccountingWithoutBlockingAndTheRetransmissionIsServedLater) {
  ServerOptions options;
  options.ledger_queue = 2;
  options.retention.prune_every = std::numeric_limits<ca::UnixTime>::max();  // no prune job in the queue
  make_blocked_server(options);
  ASSERT_TRUE(exchange_within(acct("q-1"), SocketKind::acct));  // taken by the writer, stuck in the ledger
  for (int i = 0; i < 100 && blocking_->waiting() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(blocking_->waiting(), 1);
  ASSERT_TRUE(exchange_within(acct("q-2"), SocketKind::acct));  // queued
  ASSERT_TRUE(exchange_within(acct("q-3"), SocketKind::acct));  // queued: the queue is full
  const Packet refused = acct("q-4");
  const Bytes wire = encode(refused, false);
  auto none = std::async(std::launch::async, [&] { return send_raw(wire, SocketKind::acct); });
  ASSERT_EQ(none.wait_for(5s), std::future_status::ready) << "a full queue blocked the io thread";
  EXPECT_FALSE(none.get());  // RFC 2866 §2: not stored, not answered
  EXPECT_EQ(counter("ledger_queue_full"), 1u);
  EXPECT_EQ(counter("acct_store_failed"), 1u);
  EXPECT_EQ(server_->live_sessions().size(), 3u);  // q-4 is not in memory either

  blocking_->release();
  server_->ledger_writer().flush();
  // The NAS retransmits the same request: now it is stored and answered.
  auto answered = send_raw(wire, SocketKind::acct);
  ASSERT_TRUE(answered);
  server_->ledger_writer().flush();
  for (const char* id : {"q-1", "q-2", "q-3", "q-4"}) EXPECT_TRUE(in_ledger(id)) << id;
}

// A ledger whose disk is full: accounting writes throw ca::LedgerFull while `full`.
// Fails every session write with `Failure` while `full` holds.
template <class Failure>
class FailingLedger : public portcullis::testing::ForwardingLedger {
 public:
  using ForwardingLedger::ForwardingLedger;
  void record_radius_session(const ca::RadiusSessionRow& row) override {
    if (full) throw Failure("ledger: cannot store the session");
    ForwardingLedger::record_radius_session(row);
  }
  std::atomic<bool> full{true};
};
using FullDiskLedger = FailingLedger<ca::LedgerFull>;
using UnreachableLedger = FailingLedger<ca::LedgerUnavailable>;

// RFC 2866 §2: once a write has found the disk full, accounting is not answered (the NAS
// retransmits) until a write succeeds again; then the retransmission is stored and answered.
TEST_F(LedgerWriterTest, WhileTheDiskIsFullAccountingIsNotAnsweredAndTheRetransmissionIsOnceSpaceIsFreed) {
  FullDiskLedger disk(*ledger_);
  server_.reset();
  server_ = std::make_unique<Server>(nas_, tls_, disk, ServerOptions{});
  // The first record after the disk filled is answered (queued before anyone knew) and lost.
  ASSERT_TRUE(exchange_within(acct("f-1"), SocketKind::acct));
  server_->ledger_writer().flush();
  EXPECT_EQ(counter("ledger_write_failed"), 1u);
  const Bytes wire = encode(acct("f-2"), false);
  EXPECT_FALSE(send_raw(wire, SocketKind::acct));  // not stored, not answered
  EXPECT_EQ(counter("acct_store_failed"), 1u);
  server_->ledger_writer().flush();  // its own write, a probe, has failed too

  disk.full = false;
  EXPECT_FALSE(send_raw(wire, SocketKind::acct));  // a retransmission: its probe is stored, but not answered
  server_->ledger_writer().flush();  // that probe succeeds
  ASSERT_TRUE(send_raw(wire, SocketKind::acct));  // the NAS's retransmission
  server_->ledger_writer().flush();
  EXPECT_TRUE(in_ledger("f-2"));
  server_.reset();  // before `disk`, which its writer uses
}

// The same while a database ledger is unreachable (PostgreSQL down): the record cannot be
// stored, so it is not answered, and the NAS's retransmission is once the database is back.
TEST_F(LedgerWriterTest, WhileTheDatabaseIsUnreachableAccountingIsNotAnswered) {
  UnreachableLedger down(*ledger_);
  server_.reset();
  server_ = std::make_unique<Server>(nas_, tls_, down, ServerOptions{});
  ASSERT_TRUE(exchange_within(acct("u-1"), SocketKind::acct));
  server_->ledger_writer().flush();
  EXPECT_EQ(counter("ledger_write_failed"), 1u);
  const Bytes wire = encode(acct("u-2"), false);
  EXPECT_FALSE(send_raw(wire, SocketKind::acct));  // not stored, not answered
  EXPECT_EQ(counter("acct_store_failed"), 1u);
  server_->ledger_writer().flush();  // its own write, a probe, has failed too

  down.full = false;
  EXPECT_FALSE(send_raw(wire, SocketKind::acct));  // a retransmission: its probe is stored, but not answered
  server_->ledger_writer().flush();
  ASSERT_TRUE(send_raw(wire, SocketKind::acct));
  server_->ledger_writer().flush();
  EXPECT_TRUE(in_ledger("u-2"));
  server_.reset();  // before `down`, which its writer uses
}

}  // namespace
}  // namespace portcullis::radius::testing
