// A Ledger that forwards every call to another one: tests override the calls they watch
// or hold back (a duplicate serial, a write stuck behind a slow sync).
#pragma once

#include "ca/ledger/ledger.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::testing {

class ForwardingLedger : public ca::Ledger {
 public:
  explicit ForwardingLedger(ca::Ledger& real) : real_(real) {}

  using CertificateRecord = ca::CertificateRecord;
  using DeviceRef = ca::DeviceRef;
  using IssuanceOutcome = ca::IssuanceOutcome;

  IssuanceOutcome record_issuance(const DeviceRef& d, CertificateRecord r, const std::string& a) override {
    return real_.record_issuance(d, std::move(r), a);
  }
  ca::Device create_device(const ca::NewDevice& d, const std::string& a) override { return real_.create_device(d, a); }
  std::optional<ca::Device> find_device(std::int64_t id) override { return real_.find_device(id); }
  std::optional<ca::Device> find_device_by_name(const std::string& n) override { return real_.find_device_by_name(n); }
  std::vector<ca::Device> list_devices(const ca::DeviceFilter& f) override { return real_.list_devices(f); }
  std::size_t count_devices(const ca::DeviceFilter& f) override { return real_.count_devices(f); }
  ca::EventSummary summarize_events(ca::UnixTime since) override { return real_.summarize_events(since); }
  std::optional<ca::NodeRow> record_node(const ca::NodeBeat& b) override { return real_.record_node(b); }
  ca::NodeList nodes() override { return real_.nodes(); }
  ca::ForgetOutcome forget_node(const std::string& n, const std::string& a) override { return real_.forget_node(n, a); }
  ca::Device set_device_enabled(std::int64_t id, bool e, const std::string& a) override {
    return real_.set_device_enabled(id, e, a);
  }
  ca::Device set_device_groups(std::int64_t id, const std::vector<std::string>& g, const std::string& a) override {
    return real_.set_device_groups(id, g, a);
  }
  std::optional<ca::CertificateRecord> find_certificate(const std::string& s) override { return real_.find_certificate(s); }
  std::vector<ca::CertificateRecord> list_certificates(const ca::CertificateFilter& f) override {
    return real_.list_certificates(f);
  }
  ca::RevocationOutcome revoke(const std::string& s, ca::RevocationReason r, ca::UnixTime at, const std::string& a) override {
    return real_.revoke(s, r, at, a);
  }
  std::vector<ca::CertificateRecord> revoke_device(std::int64_t id, ca::RevocationReason r, ca::UnixTime at,
                                               const std::string& a) override {
    return real_.revoke_device(id, r, at, a);
  }
  std::vector<ca::RevokedEntry> revoked_certificates() override { return real_.revoked_certificates(); }
  std::size_t certificate_count() override { return real_.certificate_count(); }
  std::int64_t next_crl_number() override { return real_.next_crl_number(); }
  void append_audit(const ca::AuditEntry& e) override { real_.append_audit(e); }
  std::vector<ca::AuditEntry> audit(const ca::AuditFilter& f) override { return real_.audit(f); }
  void append_refusals(const std::vector<ca::AuditEntry>& r, std::size_t keep) override { real_.append_refusals(r, keep); }
  void record_radius_session(const ca::RadiusSessionRow& row) override { real_.record_radius_session(row); }
  std::vector<ca::RadiusSessionRow> radius_sessions(const ca::RadiusSessionFilter& f) override {
    return real_.radius_sessions(f);
  }
  void mark_radius_sessions(const std::vector<ca::RadiusSessionMark>& m) override { real_.mark_radius_sessions(m); }
  std::vector<bool> claim_radius_sessions(const std::vector<ca::RadiusSessionClaim>& s,
                                          const std::string& claim) override {
    return real_.claim_radius_sessions(s, claim);
  }
  std::vector<ca::CertificateRecord> revoke_devices(const std::vector<std::int64_t>& ids, ca::RevocationReason r, ca::UnixTime at,
                                                const std::string& a) override {
    return real_.revoke_devices(ids, r, at, a);
  }
  std::size_t stop_radius_sessions_of_nas(const std::string& n, const std::string& a, ca::UnixTime at) override {
    return real_.stop_radius_sessions_of_nas(n, a, at);
  }
  std::size_t prune_radius_sessions(ca::UnixTime before, std::size_t max_rows) override {
    return real_.prune_radius_sessions(before, max_rows);
  }
  ca::ChallengeRecord mint_challenge(const ca::NewChallenge& c, const std::string& a) override {
    return real_.mint_challenge(c, a);
  }
  std::vector<ca::ChallengeRecord> mint_challenges(const std::vector<ca::NewChallenge>& c,
                                                   const std::string& a) override {
    return real_.mint_challenges(c, a);
  }
  std::optional<ca::ChallengeRecord> find_challenge(const std::string& h) override { return real_.find_challenge(h); }
  std::optional<std::string> find_scep_transaction(const ca::ScepTransactionKey& k) override {
    return real_.find_scep_transaction(k);
  }
  bool scep_transaction_known(const ca::ScepTransactionKey& k) override { return real_.scep_transaction_known(k); }
  ca::ScepRequestRecord create_scep_request(const ca::NewScepRequest& r, const std::string& a) override {
    return real_.create_scep_request(r, a);
  }
  std::optional<ca::ScepRequestRecord> find_scep_request(const ca::ScepTransactionKey& k) override {
    return real_.find_scep_request(k);
  }
  std::optional<ca::ScepRequestRecord> find_scep_request_by_id(std::int64_t id) override {
    return real_.find_scep_request_by_id(id);
  }
  std::vector<ca::ScepRequestRecord> list_scep_requests(const std::string& s, std::size_t limit) override {
    return real_.list_scep_requests(s, limit);
  }
  ca::ScepRequestRecord reject_scep_request(std::int64_t id, const std::string& r, const std::string& a) override {
    return real_.reject_scep_request(id, r, a);
  }
  void for_each_certificate(const std::function<void(const ca::CertificateRecord&)>& fn) override {
    real_.for_each_certificate(fn);
  }
  void for_each_device(const std::function<void(const ca::Device&)>& fn) override { real_.for_each_device(fn); }
  void append_events(const std::vector<ca::Event>& events) override { real_.append_events(events); }
  std::vector<ca::Event> events(const ca::EventFilter& filter) override { return real_.events(filter); }
  std::size_t prune_events(ca::UnixTime older_than, std::size_t max_rows) override {
    return real_.prune_events(older_than, max_rows);
  }
  std::string integrity_check() override { return real_.integrity_check(); }

 protected:
  ca::Ledger& real_;
};

}  // namespace portcullis::testing
