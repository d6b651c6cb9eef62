#include "radius/radsec/refusal_events.hpp"

namespace portcullis::radius::radsec {

RefusalEvents::RefusalEvents(ca::EventSink* sink, RefusalEventLimits limits) : sink_(sink), limits_(limits) {}

bool RefusalEvents::spend_locked() {
  if (emitted_ >= limits_.max_events) return false;
  ++emitted_;
  return true;
}

void RefusalEvents::count_other_locked(Refusal refusal, std::uint64_t n) {
  auto& [count, last] = other_[refusal.reason];
  count += n;
  last = std::move(refusal);
}

void RefusalEvents::roll_locked(SteadyClock::time_point now, Out& out) {
  if (global_started_ && now - global_start_ < limits_.window) return;
  for (auto& [reason, entry] : other_) out.push_back(Pending{std::move(entry.second), entry.first, Pending::Kind::other});
  other_.clear();
  global_start_ = now;
  global_started_ = true;
  emitted_ = 0;
}

void RefusalEvents::finish_locked(Window& w, Out& out) {
  if (w.more == 0) return;
  if (spend_locked()) out.push_back(Pending{std::move(w.last), w.more, Pending::Kind::more});
  else count_other_locked(std::move(w.last), w.more);
}

void RefusalEvents::record(Refusal refusal, SteadyClock::time_point now) {
  if (sink_ == nullptr) return;
  Out out;
  {
    std::lock_guard lock(mutex_);
    roll_locked(now, out);
    Key key{refusal.source, refusal.reason};
    auto it = windows_.find(key);
    if (it != windows_.end() && now - it->second.start >= limits_.window) {
      finish_locked(it->second, out);
      windows_.erase(it);
      it = windows_.end();
    }
    if (it != windows_.end()) {
      ++it->second.more;
      it->second.last = std::move(refusal);
    } else if (windows_.size() < limits_.max_sources && spend_locked()) {
      out.push_back(Pending{refusal, 1, Pending::Kind::first});
      windows_.emplace(std::move(key), Window{now, std::move(refusal), 0});
    } else {
      count_other_locked(std::move(refusal), 1);
    }
  }
  if (!out.empty()) emit(out);
}

void RefusalEvents::sweep(SteadyClock::time_point now) {
  if (sink_ == nullptr) return;
  Out out;
  {
    std::lock_guard lock(mutex_);
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (now - it->second.start < limits_.window) {
        ++it;
        continue;
      }
      finish_locked(it->second, out);
      it = windows_.erase(it);
    }
    roll_locked(now, out);
  }
  if (!out.empty()) emit(out);
}

void RefusalEvents::emit(Out& out) noexcept {
  for (Pending& p : out) {
    try {
      ca::Event e;
      e.kind = ca::event_kind::kRadsec;
      e.outcome = "refused";
      e.reason = p.refusal.reason;
      e.nas = std::move(p.refusal.nas);
      e.nas_ip = p.kind == Pending::Kind::other ? "other" : p.refusal.source.to_string();
      e.cn = std::move(p.refusal.cn);
      e.serial = std::move(p.refusal.serial);
      e.issuer = std::move(p.refusal.issuer);
      e.device = std::move(p.refusal.device);
      e.count = static_cast<std::int64_t>(p.count);
      switch (p.kind) {
        case Pending::Kind::first:
          e.detail = p.refusal.detail + "; more like it from this address this minute are counted in one event";
          break;
        case Pending::Kind::more:
          e.detail = std::to_string(p.count) + " more in the minute after the first (last: " + p.refusal.detail + ")";
          break;
        case Pending::Kind::other:
          e.detail = std::to_string(p.count) + " from addresses past the per-minute bound of RadSec refusal events (last: " +
                     p.refusal.detail + ")";
          break;
      }
      sink_->emit(std::move(e));
    } catch (...) {
      // Out of memory building it: this count is lost, the listener goes on.
    }
  }
}

std::size_t RefusalEvents::tracked() const {
  std::lock_guard lock(mutex_);
  return windows_.size();
}

}  // namespace portcullis::radius::radsec
