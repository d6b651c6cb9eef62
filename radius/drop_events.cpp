#include "radius/drop_events.hpp"

#include <cstring>

namespace portcullis::radius {
namespace {

constexpr const char* kOtherSources = "other";

}  // namespace

const char* to_string(DropReason reason) {
  switch (reason) {
    case DropReason::unknown_client: return "unknown_client";
    case DropReason::bad_message_authenticator: return "bad_message_authenticator";
    case DropReason::missing_message_authenticator: return "missing_message_authenticator";
    case DropReason::bad_accounting_authenticator: return "bad_accounting_authenticator";
    case DropReason::malformed: return "malformed";
  }
  return "malformed";
}

std::size_t DropEvents::KeyHash::operator()(const Key& k) const noexcept {
  std::uint64_t hi = 0, lo = 0;
  std::memcpy(&hi, k.source.bytes.data(), 8);
  std::memcpy(&lo, k.source.bytes.data() + 8, 8);
  // Spoofed addresses are the attacker's choice: mix every bit (a multiply-xorshift), so
  // no byte alone picks the bucket.
  std::uint64_t h = (hi * 0x9E3779B97F4A7C15ull) ^ (lo + static_cast<std::uint64_t>(k.reason));
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return static_cast<std::size_t>(h);
}

DropEvents::DropEvents(ca::EventSink* sink, DropEventLimits limits) : sink_(sink), limits_(limits) {}

bool DropEvents::spend_locked() {
  if (emitted_ >= limits_.max_events) return false;
  ++emitted_;
  return true;
}

void DropEvents::roll_locked(SteadyClock::time_point now, Out& out) {
  if (global_started_ && now - global_start_ < limits_.window) return;
  for (std::size_t r = 0; r < kDropReasons; ++r) {
    if (other_[r] == 0) continue;
    out.push_back(Pending{{}, true, {}, static_cast<DropReason>(r), other_detail_[r], other_[r], false});
    other_[r] = 0;
  }
  global_start_ = now;
  global_started_ = true;
  emitted_ = 0;
}

void DropEvents::finish_locked(const Key& key, Window& w, Out& out) {
  if (w.more == 0) return;
  if (spend_locked()) {
    out.push_back(Pending{key.source, false, std::move(w.nas), key.reason, w.detail, w.more, false});
  } else {
    const auto r = static_cast<std::size_t>(key.reason);
    other_[r] += w.more;
    other_detail_[r] = w.detail;
  }
}

void DropEvents::record(const IpAddress& source, std::string_view nas, DropReason reason, const char* detail,
                        SteadyClock::time_point now) {
  if (sink_ == nullptr) return;
  Out out;
  {
    std::lock_guard lock(mutex_);
    roll_locked(now, out);
    const Key key{source, reason};
    auto it = windows_.find(key);
    if (it != windows_.end() && now - it->second.start >= limits_.window) {
      finish_locked(key, it->second, out);
      windows_.erase(it);
      it = windows_.end();
    }
    if (it != windows_.end()) {
      ++it->second.more;
      it->second.detail = detail;
    } else if (windows_.size() < limits_.max_sources && spend_locked()) {
      windows_.emplace(key, Window{now, std::string(nas), detail, 0});
      out.push_back(Pending{source, false, std::string(nas), reason, detail, 1, true});
    } else {
      // Past a bound: in the count of "other", reported when the minute is over.
      const auto r = static_cast<std::size_t>(reason);
      ++other_[r];
      other_detail_[r] = detail;
    }
  }
  if (!out.empty()) emit(out);
}

void DropEvents::sweep(SteadyClock::time_point now) {
  if (sink_ == nullptr) return;
  Out out;
  {
    std::lock_guard lock(mutex_);
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (now - it->second.start < limits_.window) {
        ++it;
        continue;
      }
      finish_locked(it->first, it->second, out);
      it = windows_.erase(it);
    }
    roll_locked(now, out);
  }
  if (!out.empty()) emit(out);
}

void DropEvents::emit(Out& out) {
  for (Pending& p : out) {
    try {
      ca::Event e;
      e.kind = ca::event_kind::kNas;
      e.outcome = "drop";
      e.reason = to_string(p.reason);
      e.nas = std::move(p.nas);
      e.nas_ip = p.other ? kOtherSources : p.source.to_string();
      e.count = static_cast<std::int64_t>(p.count);
      if (p.first) {
        e.detail = std::string(p.detail) + "; more drops like it from this address this minute are counted in one event";
      } else if (p.other) {
        e.detail = std::to_string(p.count) + " from sources past the per-minute bound of NAS-drop events (last: " +
                   p.detail + ")";
      } else {
        e.detail = std::to_string(p.count) + " more in the minute after the first (last: " + p.detail + ")";
      }
      sink_->emit(std::move(e));
    } catch (...) {
      // Out of memory building it: this count is lost, the server goes on.
    }
  }
}

std::size_t DropEvents::tracked() const {
  std::lock_guard lock(mutex_);
  return windows_.size();
}

}  // namespace portcullis::radius
