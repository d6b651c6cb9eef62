#include "app/ledger_health.hpp"

#include <spdlog/spdlog.h>

namespace portcullis::app {

LedgerFollowState LedgerHealth::state(std::chrono::steady_clock::time_point now) const {
  LedgerFollowState s;
  if (follower_ == nullptr) return s;
  s.connected = follower_->healthy();
  s.changes_applied = follower_->applied();
  if (const auto at = follower_->caught_up_at())
    s.catch_up_age_seconds = std::chrono::duration<double>(now - *at).count();
  if (!s.connected) {
    s.degraded = true;
    s.reason = "the ledger database is unreachable: RADIUS decides from the identity index as it stands, "
               "issuance and admin changes fail";
  } else if (s.catch_up_age_seconds && *s.catch_up_age_seconds > static_cast<double>(behind_after_.count())) {
    s.degraded = true;
    s.reason = "behind the ledger: no complete catch-up with other nodes' changes for " +
               std::to_string(static_cast<long long>(*s.catch_up_age_seconds)) + " s";
  }
  return s;
}

void LedgerHealth::observe(std::chrono::steady_clock::time_point now) {
  if (follower_ == nullptr) return;
  const LedgerFollowState s = state(now);
  // The reason without its growing number of seconds: one line per state, not per tick.
  const std::string kind = !s.degraded ? "" : !s.connected ? "unreachable" : "behind";
  std::lock_guard lock(mutex_);
  if (kind == logged_kind_) return;
  if (kind.empty()) spdlog::warn("health: ok again: in step with the shared ledger");
  else spdlog::error("health: DEGRADED: {}", s.reason);
  logged_kind_ = kind;
}

}  // namespace portcullis::app
