// The one place that changes devices and certificates. Each call commits to the ledger
// and then applies the same change to the in-memory index before returning, so that the
// next RADIUS authentication or OCSP answer already sees it (docs/architecture.md, "One revocation").
// Observers (the CRL publisher now, RADIUS Disconnect later) hear of revocations and
// device state changes after both are done.
#pragma once

#include "ca/identity_index.hpp"
#include "ca/ledger/ledger.hpp"

#include <functional>
#include <vector>

namespace portcullis::ca {

class Registry {
 public:
  Registry(Ledger& ledger, IdentityIndex& index);

  Ledger& ledger() { return ledger_; }
  const IdentityIndex& index() const { return index_; }

  Device create_device(const NewDevice& device, const std::string& actor);
  Device set_device_enabled(std::int64_t device_id, bool enabled, const std::string& actor);
  // The groups the policy sees for the device's next authentication (the index is updated).
  Device set_device_groups(std::int64_t device_id, const std::vector<std::string>& groups, const std::string& actor);
  IssuanceOutcome record_issuance(const DeviceRef& device, CertificateRecord record, const std::string& actor);
  RevocationOutcome revoke(const std::string& serial_hex, RevocationReason reason, UnixTime at,
                           const std::string& actor);
  // Revokes every unrevoked certificate of the device; returns those it revoked.
  std::vector<CertificateRecord> revoke_device(std::int64_t device_id, RevocationReason reason, UnixTime at,
                                               const std::string& actor);
  // Many devices in one ledger transaction, one index update and one notification (so the
  // CRL is re-signed once and every Disconnect-Request is queued at once).
  std::vector<CertificateRecord> revoke_devices(const std::vector<std::int64_t>& device_ids, RevocationReason reason,
                                                UnixTime at, const std::string& actor);

  using RevocationObserver = std::function<void(const std::vector<CertificateRecord>& revoked)>;
  using DeviceObserver = std::function<void(const Device& device)>;
  // Register before traffic starts; observers run on the caller's thread, in registration
  // order, except that `first` puts one ahead of those registered so far (the RADIUS
  // Disconnect side: cutting live sessions is the time-critical effect of a revocation,
  // re-signing the CRL can follow a few milliseconds later).
  void on_revocation(RevocationObserver observer, bool first = false);
  void on_device_change(DeviceObserver observer);

  // Changes another node committed to a shared ledger, already in the index (ca/ledger/
  // change_follower.hpp): the same observers as for this node's own.
  void followed_revocations(const std::vector<CertificateRecord>& revoked) { notify_revoked(revoked); }
  void followed_device_change(const Device& device) {
    for (const auto& observer : device_observers_) observer(device);
  }

 private:
  void notify_revoked(const std::vector<CertificateRecord>& revoked);

  Ledger& ledger_;
  IdentityIndex& index_;
  std::vector<RevocationObserver> revocation_observers_;
  std::vector<DeviceObserver> device_observers_;
};

}  // namespace portcullis::ca
