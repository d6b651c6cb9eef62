#include "radius/drop_events.hpp"

namespace portcullis::radius {
namespace {

constexpr const char* kOtherSources = "other";

}  // namespace

DropEvents::DropEvents(ca::EventSink* sink, std::chrono::seconds window, std::size_t max_sources)
    : sink_(sink), window_(window), max_sources_(max_sources) {}

void DropEvents::emit_first(const Window& w) {
  ca::Event e;
  e.kind = ca::event_kind::kNas;
  e.outcome = "drop";
  e.reason = w.reason;
  e.nas = w.nas;
  e.nas_ip = w.source;
  e.detail = w.detail + "; more drops like it from this address this minute are counted in one event";
  sink_->emit(std::move(e));
}

void DropEvents::emit_more(const Window& w) {
  ca::Event e;
  e.kind = ca::event_kind::kNas;
  e.outcome = "drop";
  e.reason = w.reason;
  e.nas = w.nas;
  e.nas_ip = w.source;
  e.count = static_cast<std::int64_t>(w.more);
  e.detail = std::to_string(w.more) + " more in the minute after the first (last: " + w.detail + ")";
  sink_->emit(std::move(e));
}

void DropEvents::record(const IpAddress& source, const std::string& nas, const char* reason,
                        const std::string& detail, SteadyClock::time_point now) {
  if (sink_ == nullptr) return;
  std::string address = source.to_string();
  std::lock_guard lock(mutex_);
  std::string key = address + '\n' + reason;
  auto it = windows_.find(key);
  if (it == windows_.end() && windows_.size() >= max_sources_) {
    address = kOtherSources;
    key = address + '\n' + reason;
    it = windows_.find(key);
  }
  if (it != windows_.end() && now - it->second.start >= window_) {
    if (it->second.more > 0) emit_more(it->second);
    windows_.erase(it);
    it = windows_.end();
  }
  if (it == windows_.end()) {
    Window w{now, std::move(address), nas, reason, detail, 0};
    emit_first(w);
    windows_.emplace(std::move(key), std::move(w));
    return;
  }
  ++it->second.more;
  it->second.detail = detail;
}

void DropEvents::sweep(SteadyClock::time_point now) {
  if (sink_ == nullptr) return;
  std::lock_guard lock(mutex_);
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (now - it->second.start < window_) {
      ++it;
      continue;
    }
    if (it->second.more > 0) emit_more(it->second);
    it = windows_.erase(it);
  }
}

std::size_t DropEvents::tracked() const {
  std::lock_guard lock(mutex_);
  return windows_.size();
}

}  // namespace portcullis::radius
