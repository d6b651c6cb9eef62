// ca::Registry over the real SQLite ledger: each change reaches the ledger, the index
// and the observers within the same call (docs/architecture.md, "One revocation").
#include "ca/registry.hpp"
#include "ledger_fixtures.hpp"

#include <gtest/gtest.h>

namespace portcullis::ca {
namespace {

using testing::device_id_ref;
using testing::device_name_ref;
using testing::make_record;

class RegistryTest : public ::testing::Test {
 protected:
  static constexpr UnixTime kNow = 1'700'000'000;
  testing::TempDir dir;
  std::unique_ptr<Ledger> ledger = open_sqlite_ledger(dir.file("ledger.db"));
  IdentityIndex index;
  Registry registry{*ledger, index};
  std::vector<std::vector<CertificateRecord>> revocations;
  std::vector<Device> device_changes;

  void SetUp() override {
    index.load(*ledger);
    registry.on_revocation([this](const std::vector<CertificateRecord>& r) { revocations.push_back(r); });
    registry.on_device_change([this](const Device& d) { device_changes.push_back(d); });
  }
  CertificateRecord issue(const DeviceRef& ref) {
    auto r = make_record(testing::random_hex(16), kNow - 100, kNow + 100);
    registry.record_issuance(ref, r, "test");
    return r;
  }
};

TEST_F(RegistryTest, IssuanceIsVisibleInTheIndexAtOnce) {
  const Device d = registry.create_device({"kiosk", "", "", {}}, "admin");
  const auto r = issue(device_id_ref(d.id));
  const Identity id = registry.index().by_serial_hex(r.serial_hex, kNow);
  EXPECT_EQ(id.verdict, IdentityVerdict::good);
  EXPECT_EQ(id.device_id, d.id);
  EXPECT_EQ(id.device_name, "kiosk");
  EXPECT_TRUE(ledger->find_certificate(r.serial_hex));
}

TEST_F(RegistryTest, IssuanceThatCreatesTheDeviceTeachesTheIndexItsName) {
  const auto r = issue(device_name_ref("auto-made", true));
  const Identity id = registry.index().by_serial_hex(r.serial_hex, kNow);
  EXPECT_EQ(id.verdict, IdentityVerdict::good);
  EXPECT_EQ(id.device_name, "auto-made");
}

TEST_F(RegistryTest, RevokeChangesTheIndexAndNotifiesOnce) {
  const Device d = registry.create_device({"laptop", "", "", {}}, "admin");
  const auto r = issue(device_id_ref(d.id));
  const auto outcome = registry.revoke(r.serial_hex, RevocationReason::key_compromise, kNow - 1, "admin");
  ASSERT_TRUE(outcome.changed);
  const Identity id = registry.index().by_serial_hex(r.serial_hex, kNow);
  EXPECT_EQ(id.verdict, IdentityVerdict::revoked);
  EXPECT_EQ(id.revoked_at, kNow - 1);
  EXPECT_EQ(id.revocation_reason, RevocationReason::key_compromise);
  ASSERT_EQ(revocations.size(), 1u);
  ASSERT_EQ(revocations[0].size(), 1u);
  EXPECT_EQ(revocations[0][0].serial_hex, r.serial_hex);

  registry.revoke(r.serial_hex, RevocationReason::superseded, kNow, "admin");  // already revoked
  EXPECT_EQ(revocations.size(), 1u);
  EXPECT_EQ(registry.index().by_serial_hex(r.serial_hex, kNow).revocation_reason, RevocationReason::key_compromise);
  EXPECT_THROW(registry.revoke("ABCD", RevocationReason::unspecified, kNow, "admin"), LedgerNotFound);
}

TEST_F(RegistryTest, RevokeDeviceRevokesAllInTheIndex) {
  const Device d = registry.create_device({"fleet-7", "", "", {}}, "admin");
  const auto a = issue(device_id_ref(d.id));
  const auto b = issue(device_id_ref(d.id));
  const auto revoked = registry.revoke_device(d.id, RevocationReason::cessation_of_operation, kNow, "admin");
  EXPECT_EQ(revoked.size(), 2u);
  for (const auto* r : {&a, &b}) {
    EXPECT_EQ(registry.index().by_serial_hex(r->serial_hex, kNow).verdict, IdentityVerdict::revoked);
  }
  ASSERT_EQ(revocations.size(), 1u);
  EXPECT_EQ(revocations[0].size(), 2u);
  EXPECT_TRUE(registry.revoke_device(d.id, RevocationReason::unspecified, kNow, "admin").empty());
  EXPECT_EQ(revocations.size(), 1u);  // nothing revoked, nobody told
}

TEST_F(RegistryTest, DisableAndEnableReachTheIndexAndTheObservers) {
  const Device d = registry.create_device({"phone", "", "", {}}, "admin");
  const auto r = issue(device_id_ref(d.id));
  registry.set_device_enabled(d.id, false, "admin");
  EXPECT_EQ(registry.index().by_serial_hex(r.serial_hex, kNow).verdict, IdentityVerdict::device_disabled);
  ASSERT_EQ(device_changes.size(), 1u);
  EXPECT_FALSE(device_changes[0].enabled);
  EXPECT_EQ(device_changes[0].name, "phone");
  // The ledger refuses new certificates for it, and the index is unchanged by the refusal.
  EXPECT_THROW(issue(device_id_ref(d.id)), LedgerConflict);
  EXPECT_EQ(index.stats().certificates, 1u);

  registry.set_device_enabled(d.id, true, "admin");
  EXPECT_EQ(registry.index().by_serial_hex(r.serial_hex, kNow).verdict, IdentityVerdict::good);
  EXPECT_EQ(device_changes.size(), 2u);
}

TEST_F(RegistryTest, ARestartedIndexAgreesWithTheLiveOne) {
  const Device d = registry.create_device({"x", "", "", {}}, "admin");
  const auto kept = issue(device_id_ref(d.id));
  const auto gone = issue(device_id_ref(d.id));
  registry.revoke(gone.serial_hex, RevocationReason::superseded, kNow, "admin");
  IdentityIndex restarted;
  restarted.load(*ledger);
  for (const auto* r : {&kept, &gone}) {
    EXPECT_EQ(restarted.by_serial_hex(r->serial_hex, kNow).verdict, index.by_serial_hex(r->serial_hex, kNow).verdict);
  }
}

}  // namespace
}  // namespace portcullis::ca
