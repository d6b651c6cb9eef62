// A ledger decorator whose writes wait on a latch: stands in for a ledger whose lock is
// held through a slow fsync (the SQLite group commit), to show that the RADIUS server
// answers from memory while its ledger writer is stuck.
#pragma once

#include "ca/ledger.hpp"

#include <condition_variable>
#include <mutex>

namespace portcullis::radius::testing {

using namespace portcullis::ca;

class BlockingLedger final : public Ledger {
 public:
  explicit BlockingLedger(Ledger& real) : real_(real) {}

  // Holds every write until release(): the ledger writer blocks, as behind a long fsync.
  void hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      held_ = false;
    }
    released_.notify_all();
  }
  // Writes that reached the ledger while held (they wait inside).
  int waiting() const {
    std::lock_guard lock(mutex_);
    return waiting_;
  }

  IssuanceOutcome record_issuance(const DeviceRef& d, CertificateRecord r, const std::string& a) override {
    return real_.record_issuance(d, std::move(r), a);
  }
  Device create_device(const NewDevice& d, const std::string& a) override { return real_.create_device(d, a); }
  std::optional<Device> find_device(std::int64_t id) override { return real_.find_device(id); }
  std::optional<Device> find_device_by_name(const std::string& n) override { return real_.find_device_by_name(n); }
  std::vector<Device> list_devices(const DeviceFilter& f) override { return real_.list_devices(f); }
  Device set_device_enabled(std::int64_t id, bool e, const std::string& a) override {
    return real_.set_device_enabled(id, e, a);
  }
  std::optional<CertificateRecord> find_certificate(const std::string& s) override { return real_.find_certificate(s); }
  std::vector<CertificateRecord> list_certificates(const CertificateFilter& f) override {
    return real_.list_certificates(f);
  }
  RevocationOutcome revoke(const std::string& s, RevocationReason r, UnixTime at, const std::string& a) override {
    return real_.revoke(s, r, at, a);
  }
  std::vector<CertificateRecord> revoke_device(std::int64_t id, RevocationReason r, UnixTime at,
                                               const std::string& a) override {
    return real_.revoke_device(id, r, at, a);
  }
  std::vector<RevokedEntry> revoked_certificates() override { return real_.revoked_certificates(); }
  std::size_t certificate_count() override { return real_.certificate_count(); }
  std::int64_t next_crl_number() override { return real_.next_crl_number(); }
  void append_audit(const AuditEntry& e) override { gate(); real_.append_audit(e); }
  void append_refusals(const std::vector<AuditEntry>& r, std::size_t keep) override {
    gate();
    real_.append_refusals(r, keep);
  }
  std::vector<AuditEntry> audit(const AuditFilter& f) override { return real_.audit(f); }
  void record_radius_session(const RadiusSessionRow& row) override { gate(); real_.record_radius_session(row); }
  std::vector<RadiusSessionRow> list_radius_sessions(bool live_only, std::size_t limit) override {
    return real_.list_radius_sessions(live_only, limit);
  }
  void mark_radius_sessions(const std::vector<RadiusSessionMark>& m) override { gate(); real_.mark_radius_sessions(m); }
  std::vector<CertificateRecord> revoke_devices(const std::vector<std::int64_t>& ids, RevocationReason r, UnixTime at,
                                                const std::string& a) override {
    return real_.revoke_devices(ids, r, at, a);
  }
  std::size_t stop_radius_sessions_of_nas(const std::string& n, const std::string& a, UnixTime at) override {
    gate();
    return real_.stop_radius_sessions_of_nas(n, a, at);
  }
  std::size_t prune_radius_sessions(UnixTime before, std::size_t max_rows) override {
    gate();
    return real_.prune_radius_sessions(before, max_rows);
  }
  ChallengeRecord mint_challenge(const NewChallenge& c, const std::string& a) override {
    return real_.mint_challenge(c, a);
  }
  std::optional<ChallengeRecord> find_challenge(const std::string& h) override { return real_.find_challenge(h); }
  std::optional<std::string> find_scep_transaction(const ScepTransactionKey& k) override {
    return real_.find_scep_transaction(k);
  }
  bool scep_transaction_known(const ScepTransactionKey& k) override { return real_.scep_transaction_known(k); }
  ScepRequestRecord create_scep_request(const NewScepRequest& r, const std::string& a) override {
    return real_.create_scep_request(r, a);
  }
  std::optional<ScepRequestRecord> find_scep_request(const ScepTransactionKey& k) override {
    return real_.find_scep_request(k);
  }
  std::optional<ScepRequestRecord> find_scep_request_by_id(std::int64_t id) override {
    return real_.find_scep_request_by_id(id);
  }
  std::vector<ScepRequestRecord> list_scep_requests(const std::string& s, std::size_t limit) override {
    return real_.list_scep_requests(s, limit);
  }
  ScepRequestRecord reject_scep_request(std::int64_t id, const std::string& r, const std::string& a) override {
    return real_.reject_scep_request(id, r, a);
  }
  void for_each_certificate(const std::function<void(const CertificateRecord&)>& fn) override {
    real_.for_each_certificate(fn);
  }
  void for_each_device(const std::function<void(const Device&)>& fn) override { real_.for_each_device(fn); }
  std::string integrity_check() override { return real_.integrity_check(); }

 private:
  void gate() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    released_.wait(lock, [&] { return !held_; });
    --waiting_;
  }

  Ledger& real_;
  mutable std::mutex mutex_;
  std::condition_variable released_;
  bool held_ = false;
  int waiting_ = 0;
};

}  // namespace portcullis::radius::testing
