// Keeps this node's in-memory index (identity_index.hpp) in step with what other nodes
// commit to a shared ledger: a thread waits for the ledger's change notifications (at most
// a second at a time), reads the changes after the last one it applied, and re-reads each
// changed certificate or device from the ledger into the index. The notification only
// wakes it: the change sequence is the record, so a node that missed notifications (a
// dropped connection, a restart) catches up from the ledger all the same.
//
// Sequence numbers are taken when a transaction writes its change and become visible when
// it commits, so a lower one can appear after a higher one. A gap therefore holds the
// follower's position for up to `gap_patience` from when that gap was first seen (and the
// changes after it are applied again each round, which is harmless: applying re-reads the
// ledger); a gap older than that is a transaction that rolled back.
#pragma once

#include "ca/identity_index.hpp"
#include "ca/ledger/ledger.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace portcullis::ca {

struct ChangeFollowerSettings {
  std::chrono::milliseconds wait{1000};          // longest sleep between two catch-ups
  std::chrono::milliseconds gap_patience{10000};
  std::chrono::milliseconds max_backoff{5000};   // after errors: 250 ms doubling up to this
  // How far below `from` the follower starts: a transaction that took a lower number than
  // the newest committed one may commit after the index was loaded. Re-applying a change
  // is harmless (it re-reads the ledger).
  std::int64_t start_margin = 1000;
  std::function<std::chrono::steady_clock::time_point()> clock;   // tests; default steady_clock
  std::function<void(const std::string&)> on_error;   // the service logs; called on the follower's thread
  std::function<void(const std::string&)> on_recovered;
  // Changes that turned what the index held, applied already: certificates now revoked
  // that the index held as not revoked (one call per round, so that a bulk revocation
  // elsewhere re-signs this node's CRL once), a device whose enabled flag flipped. The same
  // observers as for this node's own changes (ca::Registry), so that a node acts on what
  // another node committed (RFC 5176 Disconnect for its live sessions, a fresh CRL). A
  // change re-applied (the start margin, a young gap) or this node's own, which its
  // Registry put in the index first, turns nothing and is not reported. Called on the
  // follower's thread; must not throw.
  std::function<void(const std::vector<CertificateRecord>&)> on_revoked;
  std::function<void(const Device&)> on_device_change;
};

class ChangeFollower {
 public:
  // `from`: the last change already in the index (read BEFORE the index was loaded, so
  // that nothing committed in between is missed); the follower starts
  // `settings.start_margin` below it. All references must outlive this.
  ChangeFollower(Ledger& ledger, ChangeFeed& feed, IdentityIndex& index, std::int64_t from,
                 ChangeFollowerSettings settings = {});
  ~ChangeFollower();
  ChangeFollower(const ChangeFollower&) = delete;
  ChangeFollower& operator=(const ChangeFollower&) = delete;

  // One round without the thread (tests): apply what is there now.
  void catch_up();
  std::int64_t position() const { return position_.load(); }
  std::uint64_t applied() const { return applied_.load(); }
  bool healthy() const { return healthy_.load(); }   // false while the ledger cannot be read
  // When a round last read every change committed by then; nullopt before the first.
  std::optional<std::chrono::steady_clock::time_point> caught_up_at() const;

 private:
  void run(std::stop_token stop);
  void apply(const LedgerChange& change, std::vector<CertificateRecord>& revoked);
  std::int64_t advance_over(std::int64_t from, const std::vector<LedgerChange>& changes);

  Ledger& ledger_;
  ChangeFeed& feed_;
  IdentityIndex& index_;
  const ChangeFollowerSettings settings_;
  std::mutex round_mutex_;   // catch_up from the thread and from a test
  std::atomic<std::int64_t> position_;
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<bool> healthy_{true};
  // steady_clock ticks of the last round that read the ledger to its end (0: none yet).
  std::atomic<std::int64_t> caught_up_at_{0};
  std::map<std::int64_t, std::chrono::steady_clock::time_point> gap_seen_;   // gap's lowest number -> first seen
  std::jthread thread_;      // last: started once everything above exists
};

}  // namespace portcullis::ca
