#include "ca/ledger/change_follower.hpp"

#include <algorithm>
#include <charconv>
#include <condition_variable>

namespace portcullis::ca {
namespace {

constexpr std::size_t kBatch = 10000;

}  // namespace

ChangeFollower::ChangeFollower(Ledger& ledger, ChangeFeed& feed, IdentityIndex& index, std::int64_t from,
                               ChangeFollowerSettings settings)
    : ledger_(ledger), feed_(feed), index_(index), settings_(std::move(settings)), position_(from) {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

ChangeFollower::~ChangeFollower() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void ChangeFollower::apply(const LedgerChange& change) {
  if (change.kind == kChangeCertificate) {
    if (const auto cert = ledger_.find_certificate(change.key)) {
      index_.put_certificate(*cert);
      if (cert->revoked) index_.mark_revoked(cert->serial_hex, cert->revoked_at, cert->revocation_reason);
    }
  } else if (change.kind == kChangeDevice) {
    std::int64_t id = 0;
    const auto* end = change.key.data() + change.key.size();
    if (std::from_chars(change.key.data(), end, id).ptr != end) return;
    if (const auto device = ledger_.find_device(id)) index_.put_device(*device);
  }
  ++applied_;
}

void ChangeFollower::catch_up() {
  std::lock_guard lock(round_mutex_);
  for (;;) {
    const std::int64_t from = position_.load();
    const std::vector<LedgerChange> changes = feed_.changes_after(from, kBatch);
    if (changes.empty()) return;
    for (const LedgerChange& c : changes) apply(c);
    // Advance over the contiguous run; stop at the first gap unless it is old.
    std::int64_t next = from;
    for (const LedgerChange& c : changes) {
      if (c.seq != next + 1) break;
      next = c.seq;
    }
    const auto now = std::chrono::steady_clock::now();
    if (next != changes.back().seq) {
      if (!gap_since_) gap_since_ = now;
      if (now - *gap_since_ < settings_.gap_patience) {
        position_ = next;
        return;   // the changes after the gap are applied again next round
      }
      next = changes.back().seq;   // a rolled-back transaction's number: skip it
    }
    gap_since_.reset();
    position_ = next;
    if (changes.size() < kBatch) return;
  }
}

void ChangeFollower::run(std::stop_token stop) {
  auto backoff = std::chrono::milliseconds(250);
  std::mutex sleep_mutex;
  std::condition_variable_any sleeper;
  while (!stop.stop_requested()) {
    try {
      feed_.wait_for_change(settings_.wait);
      catch_up();
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
