// A ledger decorator whose writes wait on a latch: stands in for a ledger whose lock is
// held through a slow fsync (the SQLite group commit), to show that the RADIUS server
// answers from memory while its ledger writer is stuck.
#pragma once

#include "tests/unit/support/forwarding_ledger.hpp"

#include <condition_variable>
#include <mutex>

namespace portcullis::radius::testing {

using namespace portcullis::ca;

class BlockingLedger final : public portcullis::testing::ForwardingLedger {
 public:
  explicit BlockingLedger(Ledger& real) : ForwardingLedger(real) {}

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

  // The writes the RADIUS ledger writer makes.
  void append_audit(const AuditEntry& e) override {
    gate();
    real_.append_audit(e);
  }
  void append_refusals(const std::vector<AuditEntry>& r, std::size_t keep) override {
    gate();
    real_.append_refusals(r, keep);
  }
  void record_radius_session(const RadiusSessionRow& row) override {
    gate();
    real_.record_radius_session(row);
  }
  void mark_radius_sessions(const std::vector<RadiusSessionMark>& m) override {
    gate();
    real_.mark_radius_sessions(m);
  }
  std::vector<bool> claim_radius_sessions(const std::vector<RadiusSessionClaim>& s, const std::string& claim) override {
    gate();
    return real_.claim_radius_sessions(s, claim);
  }
  std::size_t stop_radius_sessions_of_nas(const std::string& n, const std::string& a, UnixTime at) override {
    gate();
    return real_.stop_radius_sessions_of_nas(n, a, at);
  }
  std::size_t prune_radius_sessions(UnixTime before, std::size_t max_rows) override {
    gate();
    return real_.prune_radius_sessions(before, max_rows);
  }

 private:
  void gate() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    released_.wait(lock, [&] { return !held_; });
    --waiting_;
  }

  mutable std::mutex mutex_;
  std::condition_variable released_;
  bool held_ = false;
  int waiting_ = 0;
};

}  // namespace portcullis::radius::testing
