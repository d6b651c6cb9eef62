// Per-source limit on peer-caused log lines (source_log_limit.hpp).
#include "scep/source_log_limit.hpp"

#include "ca/peer_source.hpp"

#include <spdlog/spdlog.h>

namespace portcullis::scep {
namespace {

constexpr std::chrono::minutes kWindow{1};
constexpr const char* kOtherSources = "other";

}  // namespace

SourceLogLimit::SourceLogLimit(std::string what, SourceLogLimitSettings settings)
    : what_(std::move(what)), settings_(std::move(settings)) {}

SourceLogLimit::Clock::time_point SourceLogLimit::now() const {
  return settings_.clock ? settings_.clock() : Clock::now();
}

bool SourceLogLimit::allow(std::string_view remote_address) {
  const Clock::time_point t = now();
  std::string key = ca::peer_source_key(remote_address);
  std::lock_guard lock(mutex_);
  ++counters_.seen;
  if (t - last_sweep_ >= kWindow) sweep_locked(t);
  auto it = windows_.find(key);
  if (it == windows_.end()) {
    if (windows_.size() >= settings_.max_sources) key = kOtherSources;
    it = windows_.try_emplace(key, Window{t, 0, 0}).first;
  }
  Window& window = it->second;
  if (t - window.start >= kWindow) {
    summarise(it->first, window);
    window = Window{t, 0, 0};
  }
  if (++window.lines <= settings_.lines_per_source_per_minute) return true;
  ++window.suppressed;
  ++counters_.suppressed;
  return false;
}

void SourceLogLimit::sweep_locked(Clock::time_point now) {
  last_sweep_ = now;
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (now - it->second.start < kWindow) {
      ++it;
      continue;
    }
    summarise(it->first, it->second);
    it = windows_.erase(it);
  }
}

void SourceLogLimit::summarise(const std::string& key, const Window& window) const {
  if (window.suppressed == 0) return;
  spdlog::warn("scep: left out {} {} log lines from {} (over {} a minute)", window.suppressed, what_, key,
               settings_.lines_per_source_per_minute);
}

SourceLogLimitCounters SourceLogLimit::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace portcullis::scep
