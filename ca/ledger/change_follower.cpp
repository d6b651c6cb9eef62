#include "ca/ledger/change_follower.hpp"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <map>

namespace portcullis::ca {
namespace {

constexpr std::size_t kBatch = 10000;

}  // namespace

ChangeFollower::ChangeFollower(Ledger& ledger, ChangeFeed& feed, IdentityIndex& index, std::int64_t from,
                               ChangeFollowerSettings settings)
    : ledger_(ledger), feed_(feed), index_(index), settings_(std::move(settings)),
      position_(std::max<std::int64_t>(0, from - settings_.start_margin)) {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

ChangeFollower::~ChangeFollower() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void ChangeFollower::apply(const LedgerChange& change, std::vector<CertificateRecord>& revoked) {
  if (change.kind == kChangeCertificate) {
    if (const auto cert = ledger_.find_certificate(change.key)) {
      const bool was_revoked = index_.by_serial_hex(cert->serial_hex, now_unix()).verdict == IdentityVerdict::revoked;
      index_.put_certificate(*cert);
      if (cert->revoked) {
        index_.mark_revoked(cert->serial_hex, cert->revoked_at, cert->revocation_reason);
        if (!was_revoked) revoked.push_back(*cert);
      }
    }
  } else if (change.kind == kChangeDevice) {
    std::int64_t id = 0;
    const auto* end = change.key.data() + change.key.size();
    if (std::from_chars(change.key.data(), end, id).ptr != end) return;
    if (const auto device = ledger_.find_device(id)) {
      const std::optional<bool> was_enabled = index_.device_enabled(id);
      index_.put_device(*device);
      if (was_enabled && *was_enabled != device->enabled && settings_.on_device_change)
        settings_.on_device_change(*device);
    }
  }
  ++applied_;
}

std::optional<std::chrono::steady_clock::time_point> ChangeFollower::caught_up_at() const {
  const std::int64_t ticks = caught_up_at_.load();
  if (ticks == 0) return std::nullopt;
  return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(ticks));
}

void ChangeFollower::catch_up() {
  std::lock_guard lock(round_mutex_);
  for (;;) {
    const std::int64_t from = position_.load();
    const std::vector<LedgerChange> changes = feed_.changes_after(from, kBatch);
    if (changes.empty()) return;
    std::vector<CertificateRecord> revoked;
    for (const LedgerChange& c : changes) apply(c, revoked);
    if (!revoked.empty() && settings_.on_revoked) settings_.on_revoked(revoked);
    const std::int64_t next = advance_over(from, changes);
    position_ = next;
    if (next != changes.back().seq) return;   // a young gap: the changes after it are applied again next round
    if (changes.size() < kBatch) return;
  }
}

// Each gap (a run of missing numbers between two present ones) is timed from when it was
// first seen, keyed by its lowest number: present numbers stay present, so a gap only
// shrinks or splits, and one that starts at the same number has been missing all along.
// The position passes a gap only once it is older than the patience (a rolled-back
// transaction's numbers); it stops before the first young one, which may still commit.
std::int64_t ChangeFollower::advance_over(std::int64_t from, const std::vector<LedgerChange>& changes) {
  const auto now = settings_.clock ? settings_.clock() : std::chrono::steady_clock::now();
  std::map<std::int64_t, std::chrono::steady_clock::time_point> seen;
  for (auto it = gap_seen_.upper_bound(changes.back().seq); it != gap_seen_.end(); ++it) seen.insert(*it);
  std::int64_t present = from;   // the number before the next possible gap
  std::int64_t next = from;
  bool blocked = false;
  for (const LedgerChange& c : changes) {
    if (c.seq != present + 1) {
      const auto known = gap_seen_.find(present + 1);
      const auto first = known != gap_seen_.end() ? known->second : now;
      seen.emplace(present + 1, first);
      if (now - first < settings_.gap_patience) blocked = true;
    }
    if (!blocked) next = c.seq;
    present = c.seq;
  }
  gap_seen_ = std::move(seen);
  return next;
}

void ChangeFollower::run(std::stop_token stop) {
  auto backoff = std::chrono::milliseconds(250);
  std::mutex sleep_mutex;
  std::condition_variable_any sleeper;
  while (!stop.stop_requested()) {
    try {
      feed_.wait_for_change(settings_.wait);
      catch_up();
      const auto now = settings_.clock ? settings_.clock() : std::chrono::steady_clock::now();
      caught_up_at_ = now.time_since_epoch().count();
      if (!healthy_.exchange(true) && settings_.on_recovered) settings_.on_recovered("caught up with the ledger");
      backoff = std::chrono::milliseconds(250);
    } catch (const std::exception& e) {
      // The index keeps answering from what it holds; this node is stale by what it
      // could not read until the ledger is back.
      if (healthy_.exchange(false) && settings_.on_error) settings_.on_error(e.what());
      std::unique_lock lock(sleep_mutex);
      sleeper.wait_for(lock, stop, backoff, [] { return false; });
      backoff = std::min(backoff * 2, settings_.max_backoff);
    }
  }
}

}  // namespace portcullis::ca
