// Whether this node hears what the other nodes on a shared ledger commit: the change
// follower (ca/ledger/change_follower.hpp) can read the database, and its last complete
// catch-up is recent. While either is not so, RADIUS still decides, from an index stale by
// what it could not hear, so /api/v1/health says "degraded" (not down) with the reason,
// the metrics show it, and each change of state is logged once.
#pragma once

#include "ca/ledger/change_follower.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace portcullis::app {

struct LedgerFollowState {
  bool connected = true;           // the follower's last round could read the ledger
  // Seconds since the last round that read every change committed by then; nullopt
  // before the first one.
  std::optional<double> catch_up_age_seconds;
  std::uint64_t changes_applied = 0;
  bool degraded = false;
  std::string reason;              // why degraded, for /api/v1/health; "" when not
};

class LedgerHealth {
 public:
  // A follower that waits at most a second between rounds and one second more to read:
  // five seconds without a complete round is a node falling behind, not a slow query.
  static constexpr std::chrono::seconds kBehindAfter{5};

  // `follower` null: a ledger this process owns alone (SQLite), always in step.
  explicit LedgerHealth(const ca::ChangeFollower* follower, std::chrono::seconds behind_after = kBehindAfter)
      : follower_(follower), behind_after_(behind_after) {}

  bool shared() const { return follower_ != nullptr; }
  LedgerFollowState state(std::chrono::steady_clock::time_point now) const;
  // Logs when the state turned (degraded, recovered, or another reason); called on a timer,
  // so the log has one line per change however often health and metrics are asked.
  void observe(std::chrono::steady_clock::time_point now);

 private:
  const ca::ChangeFollower* follower_;
  std::chrono::seconds behind_after_;
  std::mutex mutex_;
  std::string logged_kind_;      // guarded by mutex_: "unreachable", "behind", "" = in step
};

}  // namespace portcullis::app
