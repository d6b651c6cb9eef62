// The SCEP and RADIUS side of the ledger on both backends: one-time challenges and SCEP
// transactions exactly once, also when raced from many threads (on PostgreSQL each
// thread has its own connection, as two nodes would), held requests, accounting sessions
// and decision events.
#include "ca/ledger/ledger.hpp"
#include "ledger_backend.hpp"
#include "ledger_fixtures.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace portcullis::ca {
namespace {

using testing::audit_where;
using testing::backend_name;
using testing::LedgerBackend;
using testing::LedgerBackendKind;
using testing::make_record;
using testing::random_hex;

std::string hash_of(char c) { return std::string(64, c); }

class LedgerScepTest : public ::testing::TestWithParam<LedgerBackendKind> {
 protected:
  LedgerBackend backend{GetParam()};
  std::unique_ptr<Ledger> ledger = backend.open();

  ChallengeRecord mint(const std::string& device, const std::string& hash) {
    NewChallenge c;
    c.secret_hash = hash;
    c.device_name = device;
    c.profile = "device";
    c.cn = device;
    c.sans = {"dns:" + device + ".example"};
    c.expires_at = now_unix() + 600;
    return ledger->mint_challenge(c, "api:admin");
  }
  DeviceRef redeeming(std::int64_t device_id, const std::string& hash) {
    DeviceRef ref;
    ref.id = device_id;
    ref.redeem_challenge_hash = hash;
    return ref;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, LedgerScepTest,
                         ::testing::Values(LedgerBackendKind::sqlite, LedgerBackendKind::postgresql), backend_name);

TEST_P(LedgerScepTest, ChallengeIsMintedWithItsDeviceAndRedeemedOnce) {
  const ChallengeRecord minted = mint("tablet", hash_of('a'));
  EXPECT_GT(minted.id, 0);
  const auto found = ledger->find_challenge(hash_of('a'));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->device_name, "tablet");
  EXPECT_EQ(found->device_id, minted.device_id);
  EXPECT_EQ(found->cn, std::optional<std::string>("tablet"));
  EXPECT_EQ(found->sans, std::vector<std::string>{"dns:tablet.example"});
  EXPECT_EQ(found->created_by, "api:admin");
  EXPECT_FALSE(found->used_at);
  EXPECT_TRUE(ledger->find_device_by_name("tablet"));
  EXPECT_FALSE(ledger->find_challenge(hash_of('b')));
  EXPECT_THROW(mint("tablet", "not-a-hash"), LedgerConflict);
  EXPECT_THROW(mint("tablet", hash_of('a')), LedgerConflict);   // the same secret twice

  const auto first = make_record();
  ledger->record_issuance(redeeming(minted.device_id, hash_of('a')), first, "scep");
  EXPECT_TRUE(ledger->find_challenge(hash_of('a'))->used_at);
  const auto second = make_record();
  EXPECT_THROW(ledger->record_issuance(redeeming(minted.device_id, hash_of('a')), second, "scep"),
               ChallengeRefused);
  EXPECT_FALSE(ledger->find_certificate(second.serial_hex));
  // Another device's challenge: refused, and left unused.
  const ChallengeRecord other = mint("phone", hash_of('c'));
  EXPECT_THROW(ledger->record_issuance(redeeming(minted.device_id, hash_of('c')), make_record(), "scep"),
               ChallengeRefused);
  EXPECT_FALSE(ledger->find_challenge(hash_of('c'))->used_at);
  EXPECT_EQ(ledger->certificate_count(), 1u);
  EXPECT_EQ(ledger->audit(audit_where({}, "challenge.mint")).size(), 2u);
  EXPECT_EQ(other.device_name, "phone");
}

// The same challenge redeemed from 16 threads at once: exactly one certificate.
// Bulk minting (an admin re-enrolling many devices at once) is one transaction: a
// conflict on the last challenge leaves neither the earlier challenges nor their devices.
TEST_P(LedgerScepTest, ManyChallengesAreMintedInOneTransaction) {
  const auto challenge = [](const std::string& device, char hash) {
    NewChallenge c;
    c.secret_hash = hash_of(hash);
    c.device_name = device;
    c.profile = "device";
    c.expires_at = now_unix() + 600;
    return c;
  };
  mint("taken", hash_of('e'));
  EXPECT_THROW(ledger->mint_challenges({challenge("bulk-1", '1'), challenge("bulk-2", '2'), challenge("bulk-3", 'e')},
                                       "api:admin"),
               LedgerConflict);
  EXPECT_FALSE(ledger->find_challenge(hash_of('1')));
  EXPECT_FALSE(ledger->find_challenge(hash_of('2')));
  EXPECT_FALSE(ledger->find_device_by_name("bulk-1"));
  EXPECT_TRUE(ledger->audit(audit_where("bulk-1", "challenge.mint")).empty());

  const auto minted = ledger->mint_challenges({challenge("bulk-1", '1'), challenge("bulk-2", '2')}, "api:admin");
  ASSERT_EQ(minted.size(), 2u);
  EXPECT_EQ(minted[0].device_name, "bulk-1");
  EXPECT_EQ(minted[1].device_name, "bulk-2");
  for (const char* device : {"bulk-1", "bulk-2"}) {
    const auto rows = ledger->audit(audit_where(device, "challenge.mint"));
    ASSERT_EQ(rows.size(), 1u) << device;
    EXPECT_EQ(rows[0].actor, "api:admin");
  }
  EXPECT_EQ(ledger->find_challenge(hash_of('2'))->device_id, minted[1].device_id);
}

TEST_P(LedgerScepTest, ARacedChallengeYieldsOneCertificate) {
  const ChallengeRecord minted = mint("contested", hash_of('d'));
  constexpr int kThreads = 16;
  std::atomic<int> issued{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      try {
        ledger->record_issuance(redeeming(minted.device_id, hash_of('d')), make_record(), "scep");
        ++issued;
      } catch (const ChallengeRefused&) {
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(issued.load(), 1);
  EXPECT_EQ(refused.load(), kThreads - 1);
  EXPECT_EQ(ledger->certificate_count(), 1u);
  EXPECT_EQ(ledger->audit(audit_where({}, "issue")).size(), 1u);
}

// One SCEP transaction answered from 16 threads at once: one certificate; the others are
// told DuplicateTransaction and find that certificate.
TEST_P(LedgerScepTest, ARacedScepTransactionIsRecordedOnce) {
  ledger->create_device({"dev-t", "", "", {}}, "t");
  const ScepTransactionKey key{"tx-9", hash_of('f')};
  EXPECT_FALSE(ledger->scep_transaction_known(key));
  constexpr int kThreads = 16;
  std::atomic<int> issued{0};
  std::atomic<int> duplicate{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      DeviceRef ref;
      ref.name = "dev-t";
      ref.scep_transaction = key;
      try {
        ledger->record_issuance(ref, make_record(), "scep");
        ++issued;
      } catch (const DuplicateTransaction&) {
        ++duplicate;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(issued.load(), 1);
  EXPECT_EQ(duplicate.load(), kThreads - 1);
  EXPECT_EQ(ledger->certificate_count(), 1u);
  const auto serial = ledger->find_scep_transaction(key);
  ASSERT_TRUE(serial);
  EXPECT_TRUE(ledger->find_certificate(*serial));
  EXPECT_TRUE(ledger->scep_transaction_known(key));
  EXPECT_FALSE(ledger->find_scep_transaction({"tx-9", hash_of('e')}));
}

// A new device named by many enrollments at once: created once; with new_only, exactly
// one enrollment may claim the name.
TEST_P(LedgerScepTest, ARacedNewDeviceIsCreatedOnce) {
  constexpr int kThreads = 8;
  std::atomic<int> created{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      DeviceRef ref;
      ref.name = "fresh";
      ref.create_if_missing = true;
      ref.new_only = i % 2 == 0;
      try {
        if (ledger->record_issuance(ref, make_record(), "scep").device_created) ++created;
      } catch (const LedgerConflict&) {
        ++conflicts;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(ledger->list_devices({}).size(), 1u);
  EXPECT_EQ(ledger->audit(audit_where("fresh", "device.create")).size(), 1u);
  // Every new_only caller but the creator (if it was one) was refused; no one else.
  EXPECT_GE(conflicts.load(), kThreads / 2 - 1);
  EXPECT_LE(conflicts.load(), kThreads / 2);
  EXPECT_EQ(ledger->certificate_count(), static_cast<std::size_t>(kThreads - conflicts.load()));
}

TEST_P(LedgerScepTest, HeldRequestSpendsItsChallengeAndIsApprovedOnce) {
  const ChallengeRecord minted = mint("held", hash_of('9'));
  NewScepRequest request;
  request.transaction = {"tx-held", hash_of('1')};
  request.device_name = "held";
  request.profile = "device";
  request.subject = "CN=held";
  request.csr_der = {0x30, 0x03, 0x02, 0x01, 0x00};
  request.redeem_challenge_hash = hash_of('9');
  request.cn = "held";
  request.sans = {"dns:held.example"};
  const ScepRequestRecord stored = ledger->create_scep_request(request, "scep");
  EXPECT_EQ(stored.status, "pending");
  EXPECT_EQ(stored.csr_der, request.csr_der);
  EXPECT_EQ(stored.sans, request.sans);
  EXPECT_TRUE(ledger->find_challenge(hash_of('9'))->used_at);
  EXPECT_TRUE(ledger->scep_transaction_known(request.transaction));
  EXPECT_THROW(ledger->create_scep_request(request, "scep"), ChallengeRefused);   // challenge spent
  request.redeem_challenge_hash.reset();
  EXPECT_THROW(ledger->create_scep_request(request, "scep"), DuplicateTransaction);
  EXPECT_EQ(ledger->find_scep_request(request.transaction)->id, stored.id);
  EXPECT_EQ(ledger->list_scep_requests("pending", 10).size(), 1u);

  DeviceRef approve;
  approve.id = minted.device_id;
  approve.approve_scep_request = stored.id;
  const auto cert = make_record();
  ledger->record_issuance(approve, cert, "api:ops");
  const auto approved = ledger->find_scep_request_by_id(stored.id);
  EXPECT_EQ(approved->status, "approved");
  EXPECT_EQ(approved->serial, std::optional<std::string>(cert.serial_hex));
  EXPECT_EQ(approved->decided_by, std::optional<std::string>("api:ops"));
  EXPECT_THROW(ledger->record_issuance(approve, make_record(), "api:ops"), LedgerConflict);
  EXPECT_THROW(ledger->reject_scep_request(stored.id, "late", "api:ops"), LedgerConflict);
  EXPECT_THROW(ledger->reject_scep_request(9999, "none", "api:ops"), LedgerNotFound);
  EXPECT_EQ(ledger->certificate_count(), 1u);

  NewScepRequest other = request;
  other.transaction = {"tx-other", hash_of('2')};
  const auto second = ledger->create_scep_request(other, "scep");
  const auto rejected = ledger->reject_scep_request(second.id, "unknown device", "api:ops");
  EXPECT_EQ(rejected.status, "rejected");
  EXPECT_EQ(rejected.reason, "unknown device");
  EXPECT_EQ(ledger->list_scep_requests("", 10).size(), 2u);
  EXPECT_EQ(ledger->list_scep_requests("", 10)[0].id, second.id);   // newest first
}

// An unbound challenge (a Jamf-style shared secret) with manual approval: the held request
// spends it and binds it to the existing device it names, as an issuance would; once
// spent, it buys nothing more, for that device or another.
TEST_P(LedgerScepTest, AHeldRequestBindsAnUnboundChallengeToItsDevice) {
  const Device mac = ledger->create_device({"jamf-mac", "", "", {}}, "t");
  ledger->create_device({"jamf-other", "", "", {}}, "t");
  const ChallengeRecord minted = mint("", hash_of('7'));
  ASSERT_EQ(minted.device_id, 0);
  NewScepRequest request;
  request.transaction = {"tx-jamf", hash_of('3')};
  request.device_name = "jamf-mac";
  request.profile = "device";
  request.subject = "CN=jamf-mac";
  request.csr_der = {0x30, 0x03, 0x02, 0x01, 0x00};
  request.redeem_challenge_hash = hash_of('7');
  const ScepRequestRecord stored = ledger->create_scep_request(request, "scep");
  EXPECT_EQ(stored.status, "pending");
  const auto spent = ledger->find_challenge(hash_of('7'));
  ASSERT_TRUE(spent);
  EXPECT_TRUE(spent->used_at);
  EXPECT_EQ(spent->device_id, mac.id);

  NewScepRequest other = request;
  other.transaction = {"tx-jamf-other", hash_of('4')};
  other.device_name = "jamf-other";
  EXPECT_THROW(ledger->create_scep_request(other, "scep"), ChallengeRefused);
  EXPECT_EQ(ledger->list_scep_requests("", 10).size(), 1u);
}

TEST_P(LedgerScepTest, RadiusSessionsUpsertMarkStopAndPrune) {
  const Device d = ledger->create_device({"laptop", "", "", {}}, "t");
  const auto cert = make_record();
  DeviceRef ref;
  ref.id = d.id;
  ledger->record_issuance(ref, cert, "t");
  RadiusSessionRow start;
  start.nas = "wlc-1";
  start.acct_session_id = "s-1";
  start.serial = cert.serial_hex;
  start.calling_station_id = "02-00-00-00-00-01";
  start.started_at = 100;
  start.updated_at = 100;
  start.nas_address = "192.0.2.1";
  start.rule = "staff";
  start.coa_reply = "0b06";
  ledger->record_radius_session(start);
  RadiusSessionRow interim;
  interim.nas = "wlc-1";
  interim.acct_session_id = "s-1";
  interim.started_at = 150;   // the first start stays
  interim.updated_at = 160;
  ledger->record_radius_session(interim);
  auto live = ledger->list_radius_sessions(true, 10);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].serial, cert.serial_hex);   // an empty serial kept the known one
  EXPECT_EQ(live[0].calling_station_id, "02-00-00-00-00-01");
  EXPECT_EQ(live[0].started_at, 100);
  EXPECT_EQ(live[0].updated_at, 160);
  EXPECT_EQ(live[0].device, "laptop");
  EXPECT_EQ(live[0].rule, "staff");
  EXPECT_EQ(live[0].coa_reply, "0b06");

  ledger->mark_radius_sessions({{"wlc-1", "s-1", "Disconnect ACK", 170, true}, {"wlc-1", "unknown", "timeout", 170, false}});
  auto all = ledger->list_radius_sessions(false, 10);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].dynauth, "Disconnect ACK");
  EXPECT_EQ(all[0].dynauth_at, std::optional<UnixTime>(170));
  EXPECT_EQ(all[0].stopped_at, std::optional<UnixTime>(170));
  // A late interim never undoes the stop.
  interim.updated_at = 180;
  ledger->record_radius_session(interim);
  EXPECT_TRUE(ledger->list_radius_sessions(true, 10).empty());

  for (int i = 2; i <= 4; ++i) {
    RadiusSessionRow s;
    s.nas = "wlc-2";
    s.acct_session_id = "s-" + std::to_string(i);
    s.started_at = s.updated_at = 200 + i;
    s.nas_address = i == 4 ? "192.0.2.9" : "";
    ledger->record_radius_session(s);
  }
  EXPECT_EQ(ledger->stop_radius_sessions_of_nas("wlc-2", "192.0.2.2", 300), 2u);   // not the one of .9
  EXPECT_EQ(ledger->list_radius_sessions(true, 10).size(), 1u);
  EXPECT_EQ(ledger->prune_radius_sessions(200, 1000), 1u);   // s-1 stopped at 170
  EXPECT_EQ(ledger->prune_radius_sessions(0, 2), 1u);        // one of the stopped two goes; the live one stays
  EXPECT_EQ(ledger->list_radius_sessions(false, 10).size(), 2u);
  EXPECT_EQ(ledger->list_radius_sessions(true, 10).size(), 1u);
  EXPECT_THROW(ledger->record_radius_session(RadiusSessionRow{}), LedgerConflict);
}

// Which node sends a session's Disconnect/CoA (RFC 5176): the one whose claim for the
// cause lands; a cause is claimed once per session, raced from many threads (PostgreSQL:
// one connection each, as nodes have), and enabling the device makes "disabled" new.
TEST_P(LedgerScepTest, RadiusSessionClaimsAreTakenOncePerCause) {
  const Device d = ledger->create_device({"roamer", "", "", {}}, "t");
  const auto cert = make_record();
  DeviceRef ref;
  ref.id = d.id;
  ledger->record_issuance(ref, cert, "t");
  RadiusSessionRow row;
  row.nas = "wlc-1";
  row.acct_session_id = "s-1";
  row.serial = cert.serial_hex;
  row.started_at = row.updated_at = 100;
  ledger->record_radius_session(row);
  const RadiusSessionClaim known{"wlc-1", "s-1", cert.serial_hex, "", "", 110};
  // Not written yet by the accounting writer: the claim makes the row.
  const RadiusSessionClaim unwritten{"wlc-1", "s-2", cert.serial_hex, "02-00-00-00-00-02", "anon", 120};

  std::atomic<int> won{0};
  std::vector<std::thread> racers;
  for (int i = 0; i < 8; ++i)
    racers.emplace_back([&] {
      const auto taken = ledger->claim_radius_sessions({known, unwritten}, kClaimRevoked);
      won += (taken.at(0) ? 1 : 0) + (taken.at(1) ? 10 : 0);
    });
  for (auto& t : racers) t.join();
  EXPECT_EQ(won.load(), 11) << "each session claimed exactly once";
  EXPECT_EQ(ledger->claim_radius_sessions({known}, kClaimRevoked), std::vector<bool>{false});
  // The accounting upsert fills in the claimed row later and keeps it.
  RadiusSessionRow late;
  late.nas = "wlc-1";
  late.acct_session_id = "s-2";
  late.started_at = late.updated_at = 125;
  late.nas_address = "192.0.2.1";
  ledger->record_radius_session(late);
  EXPECT_EQ(ledger->claim_radius_sessions({unwritten}, kClaimRevoked), std::vector<bool>{false});
  const auto rows = ledger->list_radius_sessions(true, 10);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) EXPECT_EQ(r.serial, cert.serial_hex);

  // Disabled, enabled, disabled again: two causes to act on.
  ledger->set_device_enabled(d.id, false, "t");
  EXPECT_EQ(ledger->claim_radius_sessions({known}, kClaimDisabled), std::vector<bool>{true});
  EXPECT_EQ(ledger->claim_radius_sessions({known}, kClaimDisabled), std::vector<bool>{false});
  ledger->set_device_enabled(d.id, true, "t");
  ledger->set_device_enabled(d.id, false, "t");
  EXPECT_EQ(ledger->claim_radius_sessions({known}, kClaimDisabled), std::vector<bool>{true});
  EXPECT_TRUE(ledger->claim_radius_sessions({}, kClaimExpired).empty());
}

TEST_P(LedgerScepTest, EventsRoundTripFilterAndPrune) {
  std::vector<Event> batch;
  for (int i = 0; i < 6; ++i) {
    Event e;
    e.at = 1000 + i;
    e.kind = "radius";
    e.outcome = i % 2 == 0 ? "accept" : "reject";
    e.reason = "r" + std::to_string(i);
    e.device = i < 3 ? "laptop" : "";
    e.mac = "02:00:00:00:00:0" + std::to_string(i);
    if (i == 0) e.duration_ms = 42;
    e.count = i + 1;
    batch.push_back(e);
  }
  ledger->append_events(batch);
  const auto all = ledger->events({});
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].reason, "r5");   // newest first
  EXPECT_EQ(all[5].duration_ms, std::optional<std::int64_t>(42));
  EXPECT_FALSE(all[0].duration_ms);
  EXPECT_EQ(all[0].count, 6);
  EXPECT_GT(all[0].id, all[5].id);
  EventFilter laptop;
  laptop.device = "laptop";
  laptop.outcome = "accept";
  EXPECT_EQ(ledger->events(laptop).size(), 2u);
  EventFilter paged;
  paged.since = 1002;
  paged.limit = 2;
  paged.offset = 1;
  const auto page = ledger->events(paged);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].reason, "r4");
  Event bad;
  bad.kind = "radius";
  EXPECT_THROW(ledger->append_events({batch[0], bad}), LedgerConflict);
  EXPECT_EQ(ledger->events({}).size(), 6u);
  EXPECT_EQ(ledger->prune_events(1002, 1000), 2u);
  EXPECT_EQ(ledger->prune_events(0, 3), 1u);
  EXPECT_EQ(ledger->events({}).size(), 3u);
}

TEST_P(LedgerScepTest, CrlNumbersAreUniqueUnderConcurrency) {
  constexpr int kThreads = 8;
  constexpr int kEach = 25;
  std::vector<std::vector<std::int64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) got[static_cast<std::size_t>(t)].push_back(ledger->next_crl_number());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::int64_t> distinct;
  for (const auto& v : got) distinct.insert(v.begin(), v.end());
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(*distinct.begin(), 1);
  EXPECT_EQ(*distinct.rbegin(), kThreads * kEach);
}

}  // namespace
}  // namespace portcullis::ca
