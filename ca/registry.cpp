#include "ca/registry.hpp"

namespace portcullis::ca {

Registry::Registry(Ledger& ledger, IdentityIndex& index) : ledger_(ledger), index_(index) {}

Device Registry::create_device(const NewDevice& device, const std::string& actor) {
  Device created = ledger_.create_device(device, actor);
  index_.put_device(created);
  return created;
}

Device Registry::set_device_enabled(std::int64_t device_id, bool enabled, const std::string& actor) {
  Device changed = ledger_.set_device_enabled(device_id, enabled, actor);
  index_.put_device(changed);
  for (const auto& observer : device_observers_) observer(changed);
  return changed;
}

Device Registry::set_device_groups(std::int64_t device_id, const std::vector<std::string>& groups,
                                   const std::string& actor) {
  Device changed = ledger_.set_device_groups(device_id, groups, actor);
  index_.put_device(changed);
  return changed;
}

IssuanceOutcome Registry::record_issuance(const DeviceRef& device, CertificateRecord record,
                                          const std::string& actor) {
  IssuanceOutcome outcome = ledger_.record_issuance(device, record, actor);
  if (outcome.device_created) index_.put_device(outcome.device);
  record.device_id = outcome.device.id;
  index_.put_certificate(record);
  return outcome;
}

RevocationOutcome Registry::revoke(const std::string& serial_hex, RevocationReason reason, UnixTime at,
                                   const std::string& actor) {
  RevocationOutcome outcome = ledger_.revoke(serial_hex, reason, at, actor);
  if (outcome.changed) {
    const auto& cert = outcome.certificate;
    index_.mark_revoked(cert.serial_hex, cert.revoked_at, cert.revocation_reason);
    notify_revoked({cert});
  }
  return outcome;
}

std::vector<CertificateRecord> Registry::revoke_device(std::int64_t device_id, RevocationReason reason, UnixTime at,
                                                       const std::string& actor) {
  std::vector<CertificateRecord> revoked = ledger_.revoke_device(device_id, reason, at, actor);
  for (const auto& cert : revoked) index_.mark_revoked(cert.serial_hex, cert.revoked_at, cert.revocation_reason);
  if (!revoked.empty()) notify_revoked(revoked);
  return revoked;
}

std::vector<CertificateRecord> Registry::revoke_devices(const std::vector<std::int64_t>& device_ids,
                                                        RevocationReason reason, UnixTime at,
                                                        const std::string& actor) {
  std::vector<CertificateRecord> revoked = ledger_.revoke_devices(device_ids, reason, at, actor);
  for (const auto& cert : revoked) index_.mark_revoked(cert.serial_hex, cert.revoked_at, cert.revocation_reason);
  if (!revoked.empty()) notify_revoked(revoked);
  return revoked;
}

void Registry::on_revocation(RevocationObserver observer, bool first) {
  if (first) revocation_observers_.insert(revocation_observers_.begin(), std::move(observer));
  else revocation_observers_.push_back(std::move(observer));
}
void Registry::on_device_change(DeviceObserver observer) { device_observers_.push_back(std::move(observer)); }

void Registry::notify_revoked(const std::vector<CertificateRecord>& revoked) {
  for (const auto& observer : revocation_observers_) observer(revoked);
}

}  // namespace portcullis::ca
