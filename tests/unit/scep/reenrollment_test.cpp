// Re-enrolling devices at the renewal dead end: which devices an expired certificate leaves
// without a valid one, and minting a challenge for each in one transaction.
#include "scep/reenrollment.hpp"
#include "scep_test_client.hpp"

#include <cstdio>
#include <tuple>

namespace portcullis::scep::testing {
namespace {

constexpr ca::UnixTime kDay = 86400;

class Reenrollment : public ScepFixture {
 protected:
  const ca::UnixTime now_ = ca::now_unix();
  int serial_ = 0;

  // A certificate of `profile` for `device` (created when missing) that ends at `not_after`.
  std::string certificate(const std::string& device, ca::UnixTime not_after, const std::string& profile = "device") {
    if (!ledger_->find_device_by_name(device)) registry_->create_device(ca::NewDevice{device, {}, {}, {}}, "test");
    ca::CertificateRecord r;
    r.serial_hex = "0" + std::to_string(++serial_ + 100);
    r.profile = profile;
    r.subject = "CN=" + device;
    char tail[3];
    std::snprintf(tail, sizeof tail, "%02X", serial_);
    r.sha256_fingerprint = std::string(62, 'A') + tail;
    r.not_before = not_after - 365 * kDay;
    r.not_after = not_after;
    r.der = {0x30, 0x00};
    ca::DeviceRef ref;
    ref.name = device;
    ledger_->record_issuance(ref, r, "test");
    return r.serial_hex;
  }
};

TEST_F(Reenrollment, FindsTheDevicesAnExpiredCertificateLeftWithoutAValidOne) {
  certificate("ipad-a", now_ - 20 * kDay);
  const std::string latest = certificate("ipad-a", now_ - 3 * kDay);      // the later of two
  certificate("ipad-old", now_ - 40 * kDay);                             // outside 30 days
  certificate("ipad-valid", now_ - 3 * kDay);
  certificate("ipad-valid", now_ + 30 * kDay);                           // renewed in time
  certificate("ipad-off", now_ - 3 * kDay);
  registry_->set_device_enabled(ledger_->find_device_by_name("ipad-off")->id, false, "test");
  const std::string server = certificate("web-1", now_ - 2 * kDay, "server");
  const std::string revoked = certificate("ipad-revoked", now_ - 2 * kDay);
  ledger_->revoke(revoked, ca::RevocationReason::key_compromise, now_ - 5 * kDay, "test");

  const auto found = expired_enrollments(*ledger_, 30, "", now_);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ((std::tuple{found[0].device, found[0].profile, found[0].serial}), (std::tuple{std::string("ipad-a"), std::string("device"), latest}));
  EXPECT_EQ(found[0].expired_at, now_ - 3 * kDay);
  EXPECT_EQ((std::tuple{found[1].device, found[1].profile, found[1].serial}), (std::tuple{std::string("web-1"), std::string("server"), server}));

  const auto devices_only = expired_enrollments(*ledger_, 30, "device", now_);
  ASSERT_EQ(devices_only.size(), 1u);
  EXPECT_EQ(devices_only[0].device, "ipad-a");
  EXPECT_EQ(expired_enrollments(*ledger_, 60, "device", now_).size(), 2u);   // ipad-old too
  EXPECT_THROW(expired_enrollments(*ledger_, 0, "", now_), std::invalid_argument);
}

TEST_F(Reenrollment, MintsAChallengeForEachDeviceOrNone) {
  certificate("ipad-a", now_ - 3 * kDay);
  certificate("ipad-b", now_ - 3 * kDay);
  certificate("ipad-off", now_ - 3 * kDay);
  registry_->set_device_enabled(ledger_->find_device_by_name("ipad-off")->id, false, "test");
  const ca::Profile& device = issuer_->profiles().at("device");
  const auto count = [&] {
    std::size_t n = 0;
    for (const char* name : {"ipad-a", "ipad-b"}) n += ledger_->audit({std::string(name), std::string("challenge.mint"), 10}).size();
    return n;
  };

  EXPECT_THROW(mint_challenges(*registry_, {{"ipad-a", &device}, {"nobody", &device}}, 600, "api:ops"), ca::LedgerNotFound);
  EXPECT_THROW(mint_challenges(*registry_, {{"ipad-a", &device}, {"ipad-off", &device}}, 600, "api:ops"), ca::LedgerConflict);
  EXPECT_THROW(mint_challenges(*registry_, {{"ipad-a", &device}, {"ipad-a", &device}}, 600, "api:ops"), std::invalid_argument);
  EXPECT_THROW(mint_challenges(*registry_, {{"ipad-a", &device}}, kMaxChallengeTtl + 1, "api:ops"), std::invalid_argument);
  EXPECT_THROW(mint_challenges(*registry_, {}, 600, "api:ops"), std::invalid_argument);
  EXPECT_FALSE(ledger_->find_device_by_name("nobody"));
  EXPECT_EQ(count(), 0u);

  const auto minted = mint_challenges(*registry_, {{"ipad-a", &device}, {"ipad-b", &device}}, 600, "api:ops");
  ASSERT_EQ(minted.size(), 2u);
  EXPECT_NE(minted[0].secret, minted[1].secret);
  for (std::size_t i = 0; i < minted.size(); ++i) {
    const auto stored = ledger_->find_challenge(challenge_hash(minted[i].secret));
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->device_name, i == 0 ? "ipad-a" : "ipad-b");
    EXPECT_EQ(stored->created_by, "api:ops");
    EXPECT_GE(stored->expires_at, now_ + 600);
  }
  EXPECT_EQ(count(), 2u);
}

}  // namespace
}  // namespace portcullis::scep::testing
