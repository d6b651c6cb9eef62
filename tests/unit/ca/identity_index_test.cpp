// The in-memory identity/revocation index: every verdict, key forms, updates, growth,
// loading from a real ledger, and readers racing a writer.
#include "ca/identity_index.hpp"
#include "ca/hex.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/serial_text.hpp"
#include "ledger_fixtures.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

namespace portcullis::ca {
namespace {

using testing::device_id_ref;
using testing::device_state;
using testing::make_record;
using testing::random_hex;

std::vector<std::uint8_t> bytes_of(const std::string& hex) {
  std::vector<std::uint8_t> out(hex.size() / 2);
  EXPECT_TRUE(from_hex(hex, out));
  return out;
}

std::array<std::uint8_t, 32> fingerprint_of(const std::string& hex) {
  std::array<std::uint8_t, 32> out{};
  EXPECT_TRUE(from_hex(hex, out));
  return out;
}

class IndexTest : public ::testing::Test {
 protected:
  static constexpr UnixTime kNow = 1'700'000'000;
  IdentityIndex index;

  void SetUp() override {
    index.put_device(device_state(1, "laptop", true));
    index.put_device(device_state(2, "lost-phone", false));
  }
  CertificateRecord put(std::int64_t device, UnixTime nb = kNow - 100, UnixTime na = kNow + 100) {
    CertificateRecord r = make_record(random_hex(16), nb, na);
    r.device_id = device;
    index.put_certificate(r);
    return r;
  }
  Identity by_serial(const CertificateRecord& r, UnixTime now = kNow) { return index.by_serial(bytes_of(r.serial_hex), now); }
};

TEST_F(IndexTest, GoodCertificateNamesItsDevice) {
  const auto r = put(1);
  const Identity id = by_serial(r);
  EXPECT_EQ(id.verdict, IdentityVerdict::good);
  EXPECT_EQ(id.device_id, 1);
  EXPECT_EQ(id.device_name, "laptop");
  EXPECT_EQ(id.profile, "device");
  EXPECT_EQ(id.not_before, r.not_before);
  EXPECT_EQ(id.not_after, r.not_after);
  EXPECT_EQ(index.by_fingerprint(fingerprint_of(r.sha256_fingerprint), kNow).verdict, IdentityVerdict::good);
  // The validity bounds are inclusive (RFC 5280 §4.1.2.5).
  EXPECT_EQ(by_serial(r, r.not_before).verdict, IdentityVerdict::good);
  EXPECT_EQ(by_serial(r, r.not_after).verdict, IdentityVerdict::good);
}

TEST_F(IndexTest, EveryVerdict) {
  const auto good = put(1);
  EXPECT_EQ(by_serial(good, good.not_before - 1).verdict, IdentityVerdict::not_yet_valid);
  EXPECT_EQ(by_serial(good, good.not_after + 1).verdict, IdentityVerdict::expired);
  EXPECT_EQ(by_serial(put(2)).verdict, IdentityVerdict::device_disabled);
  EXPECT_EQ(by_serial(put(99)).verdict, IdentityVerdict::device_disabled);  // unknown device: fail closed
  EXPECT_EQ(index.by_serial_hex(random_hex(16), kNow).verdict, IdentityVerdict::unknown);
  std::array<std::uint8_t, 32> zero{};
  EXPECT_EQ(index.by_fingerprint(zero, kNow).verdict, IdentityVerdict::unknown);

  const auto revoked = put(1);
  index.mark_revoked(revoked.serial_hex, kNow - 5, RevocationReason::key_compromise);
  const Identity id = by_serial(revoked);
  EXPECT_EQ(id.verdict, IdentityVerdict::revoked);
  EXPECT_EQ(id.revoked_at, kNow - 5);
  EXPECT_EQ(id.revocation_reason, RevocationReason::key_compromise);
  EXPECT_EQ(id.device_name, "laptop");
  EXPECT_STREQ(to_string(IdentityVerdict::device_disabled), "device_disabled");
}

TEST_F(IndexTest, VerdictsApplyInOrder) {
  // revoked > not_yet_valid > expired > device_disabled
  const auto r = put(2, kNow + 10, kNow + 20);  // disabled device, not yet valid
  EXPECT_EQ(by_serial(r).verdict, IdentityVerdict::not_yet_valid);
  EXPECT_EQ(by_serial(r, kNow + 30).verdict, IdentityVerdict::expired);
  EXPECT_EQ(by_serial(r, kNow + 15).verdict, IdentityVerdict::device_disabled);
  index.mark_revoked(r.serial_hex, kNow, RevocationReason::superseded);
  EXPECT_EQ(by_serial(r).verdict, IdentityVerdict::revoked);
  EXPECT_EQ(by_serial(r, kNow + 30).verdict, IdentityVerdict::revoked);
}

// A node following other nodes' changes may have read a certificate before a local
// revocation committed, and put that older, unrevoked record afterwards: a revocation is
// final (the CA has no path that lifts one), so the put keeps it.
TEST_F(IndexTest, PuttingAStaleUnrevokedRecordKeepsTheRevocation) {
  const auto r = put(1);
  index.mark_revoked(r.serial_hex, kNow - 5, RevocationReason::key_compromise);
  index.put_certificate(r);   // the record as read before the revocation
  const Identity id = by_serial(r);
  EXPECT_EQ(id.verdict, IdentityVerdict::revoked);
  EXPECT_EQ(id.revoked_at, kNow - 5);
  EXPECT_EQ(id.revocation_reason, RevocationReason::key_compromise);
  EXPECT_EQ(index.census(kNow, {}).revoked, 1u);
}

TEST_F(IndexTest, CensusCountsByStatusAndExpiryWindow) {
  put(1, kNow - 100, kNow + 10);          // valid, expires within 1 day
  put(1, kNow - 100, kNow + 5 * 86400);   // valid, within 7 days
  put(1, kNow - 100, kNow + 90 * 86400);  // valid, beyond both
  put(1, kNow - 100, kNow);               // valid through this very second (notAfter inclusive)
  put(1, kNow - 200, kNow - 1);           // expired
  const auto revoked = put(1, kNow - 100, kNow + 10);
  index.mark_revoked(revoked.serial_hex, kNow, RevocationReason::key_compromise);  // revoked is not "expiring"
  const std::array<UnixTime, 2> windows{86400, 7 * 86400};
  const CertificateCensus c = index.census(kNow, windows);
  EXPECT_EQ(c.valid, 4u);
  EXPECT_EQ(c.revoked, 1u);
  EXPECT_EQ(c.expired, 1u);
  EXPECT_EQ(c.expiring, (std::vector<std::size_t>{2, 3}));
}

TEST_F(IndexTest, SerialKeyForms) {
  auto r = make_record("00FFEE");  // a DER INTEGER's leading zero octet is not part of the number
  r.device_id = 1;
  index.put_certificate(r);
  EXPECT_EQ(index.by_serial(std::vector<std::uint8_t>{0xFF, 0xEE}, kNow).verdict, IdentityVerdict::good);
  EXPECT_EQ(index.by_serial(std::vector<std::uint8_t>{0x00, 0xFF, 0xEE}, kNow).verdict, IdentityVerdict::good);
  EXPECT_EQ(index.by_serial_hex("ffee", kNow).verdict, IdentityVerdict::good);
  EXPECT_EQ(index.by_serial_hex("0FFEE", kNow).verdict, IdentityVerdict::good);
  EXPECT_EQ(index.by_serial(std::vector<std::uint8_t>{0xFF}, kNow).verdict, IdentityVerdict::unknown);
  EXPECT_EQ(index.by_serial(std::vector<std::uint8_t>{}, kNow).verdict, IdentityVerdict::unknown);
  EXPECT_EQ(index.by_serial(std::vector<std::uint8_t>(21, 0x7F), kNow).verdict, IdentityVerdict::unknown);
  EXPECT_EQ(index.by_serial_hex("xyz", kNow).verdict, IdentityVerdict::unknown);
  EXPECT_EQ(index.by_serial_hex("", kNow).verdict, IdentityVerdict::unknown);
}

TEST_F(IndexTest, FirstRevocationStandsAndUnknownSerialsAreIgnored) {
  const auto r = put(1);
  index.mark_revoked(r.serial_hex, 100, RevocationReason::key_compromise);
  index.mark_revoked(r.serial_hex, 200, RevocationReason::superseded);
  EXPECT_EQ(by_serial(r).revoked_at, 100);
  EXPECT_EQ(by_serial(r).revocation_reason, RevocationReason::key_compromise);
  index.mark_revoked(random_hex(16), 1, RevocationReason::unspecified);
  index.mark_revoked("not hex", 1, RevocationReason::unspecified);
  EXPECT_EQ(index.stats().certificates, 1u);
}

TEST_F(IndexTest, DeviceChangesApplyToItsCertificates) {
  const auto r = put(1);
  index.put_device(device_state(1, "laptop-renamed", false));
  EXPECT_EQ(by_serial(r).verdict, IdentityVerdict::device_disabled);
  EXPECT_EQ(by_serial(r).device_name, "laptop-renamed");
  index.put_device(device_state(1, "laptop-renamed", true));
  EXPECT_EQ(by_serial(r).verdict, IdentityVerdict::good);
}

TEST_F(IndexTest, DeviceGroupsAreAnsweredAndFollowChanges) {
  const auto r = put(1);
  EXPECT_TRUE(by_serial(r).device_groups.empty());
  Device d = device_state(1, "laptop", true);
  d.groups = {"staff"};
  index.put_device(d);
  EXPECT_EQ(by_serial(r).device_groups, std::vector<std::string>{"staff"});
}

TEST_F(IndexTest, PutReplacesAnEntryWithTheSameSerial) {
  auto r = put(1);
  const auto old_fp = fingerprint_of(r.sha256_fingerprint);
  r.sha256_fingerprint = random_hex(32);
  r.revoked = true;
  r.revoked_at = 42;
  r.revocation_reason = RevocationReason::ca_compromise;
  index.put_certificate(r);
  EXPECT_EQ(index.stats().certificates, 1u);
  EXPECT_EQ(index.by_fingerprint(old_fp, kNow).verdict, IdentityVerdict::unknown);
  const Identity id = index.by_fingerprint(fingerprint_of(r.sha256_fingerprint), kNow);
  EXPECT_EQ(id.verdict, IdentityVerdict::revoked);
  EXPECT_EQ(id.revocation_reason, RevocationReason::ca_compromise);
}

TEST_F(IndexTest, MalformedRecordsAreRejected) {
  auto r = make_record("XYZ");
  EXPECT_THROW(index.put_certificate(r), std::invalid_argument);
  r = make_record();
  r.sha256_fingerprint = "00";
  EXPECT_THROW(index.put_certificate(r), std::invalid_argument);
  EXPECT_EQ(index.stats().certificates, 0u);
}

TEST_F(IndexTest, GrowsAndKeepsEveryKeyThroughReplacements) {
  // Sequential serials (an imported CA's) and fingerprint churn exercise probing,
  // rehashing and backward-shift deletion.
  constexpr int kCount = 50'000;
  std::vector<CertificateRecord> records;
  records.reserve(kCount);
  char buf[16];
  for (int i = 1; i <= kCount; ++i) {
    std::snprintf(buf, sizeof buf, "%06X", i);
    auto r = make_record(buf, kNow - 10, kNow + 10);
    r.device_id = 1;
    index.put_certificate(r);
    records.push_back(std::move(r));
  }
  for (int i = 0; i < kCount; i += 3) {
    records[static_cast<std::size_t>(i)].sha256_fingerprint = random_hex(32);
    index.put_certificate(records[static_cast<std::size_t>(i)]);
  }
  for (const auto& r : records) {
    ASSERT_EQ(index.by_serial_hex(r.serial_hex, kNow).verdict, IdentityVerdict::good) << r.serial_hex;
    ASSERT_EQ(index.by_fingerprint(fingerprint_of(r.sha256_fingerprint), kNow).verdict, IdentityVerdict::good);
  }
  const IndexStats stats = index.stats();
  EXPECT_EQ(stats.certificates, static_cast<std::size_t>(kCount));
  EXPECT_EQ(stats.devices, 2u);
  EXPECT_GT(stats.approx_bytes, kCount * 88u);
  EXPECT_LT(stats.approx_bytes, kCount * 200u);
}

TEST(IndexLoad, EqualsWhatTheLedgerHolds) {
  testing::TempDir dir;
  auto ledger = open_sqlite_ledger(dir.file("ledger.db"));
  const Device on = ledger->create_device({"on", "", "", {"staff", "byod"}}, "t");
  const Device off = ledger->create_device({"off", "", "", {}}, "t");
  const UnixTime now = 1'700'000'000;
  std::map<std::string, IdentityVerdict> expected;
  std::map<std::string, std::string> fingerprints;
  for (int i = 0; i < 200; ++i) {
    const Device& d = i % 4 == 3 ? off : on;
    auto r = make_record(random_hex(16), now - 100, i % 5 == 4 ? now - 1 : now + 100);
    ledger->record_issuance(device_id_ref(d.id), r, "t");
    fingerprints[r.serial_hex] = r.sha256_fingerprint;
    expected[r.serial_hex] = i % 5 == 4 ? IdentityVerdict::expired
                             : d.id == off.id ? IdentityVerdict::device_disabled
                                              : IdentityVerdict::good;
    if (i % 7 == 0) {
      ledger->revoke(r.serial_hex, RevocationReason::key_compromise, now - 50, "t");
      expected[r.serial_hex] = IdentityVerdict::revoked;
    }
  }
  ledger->set_device_enabled(off.id, false, "t");

  IdentityIndex index;
  auto stray = make_record();  // load() replaces everything, so this must disappear
  stray.device_id = on.id;
  index.put_certificate(stray);
  index.load(*ledger);
  EXPECT_EQ(index.stats().certificates, 200u);
  EXPECT_EQ(index.stats().devices, 2u);
  EXPECT_EQ(index.by_serial_hex(stray.serial_hex, now).verdict, IdentityVerdict::unknown);
  for (const auto& [serial, verdict] : expected) {
    const Identity id = index.by_serial_hex(serial, now);
    EXPECT_EQ(id.verdict, verdict) << serial;
    EXPECT_EQ(index.by_fingerprint(fingerprint_of(fingerprints[serial]), now).verdict, verdict);
    const auto cert = ledger->find_certificate(serial);
    EXPECT_EQ(id.device_id, cert->device_id);
    EXPECT_EQ(id.device_name, cert->device_id == on.id ? "on" : "off");
    // Groups travel with the device, for policy rules (policy/ device_groups).
    // As the ledger keeps them: sorted.
    const std::vector<std::string> groups = cert->device_id == on.id ? std::vector<std::string>{"byod", "staff"}
                                                                      : std::vector<std::string>{};
    EXPECT_EQ(id.device_groups, groups);
    EXPECT_EQ(id.not_after, cert->not_after);
    if (verdict == IdentityVerdict::revoked) {
      EXPECT_EQ(id.revoked_at, now - 50);
      EXPECT_EQ(id.revocation_reason, RevocationReason::key_compromise);
    }
  }
}

TEST(IndexConcurrency, ReadersSeeConsistentAnswersWhileAWriterRuns) {
  IdentityIndex index;
  index.put_device(device_state(1, "d", true));
  std::vector<CertificateRecord> stable;
  for (int i = 0; i < 1000; ++i) {
    auto r = make_record();
    r.device_id = 1;
    index.put_certificate(r);
    stable.push_back(r);
  }
  std::atomic<bool> stop{false};
  std::atomic<long> wrong{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        for (const auto& r : stable) {
          if (index.by_serial_hex(r.serial_hex, 1'000'000).verdict != IdentityVerdict::good) ++wrong;
        }
      }
    });
  }
  for (int i = 0; i < 20'000; ++i) {  // forces several rehashes under the readers
    auto r = make_record();
    r.device_id = 1;
    index.put_certificate(r);
  }
  stop = true;
  for (auto& th : readers) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(index.stats().certificates, 21'000u);
}

}  // namespace
}  // namespace portcullis::ca
