// Refusal rows for the ledger, batched, limited per source and bounded (refusal_audit.hpp).
#include "scep/refusal_audit.hpp"

#include "ca/peer_source.hpp"

#include <spdlog/spdlog.h>

#include <ctime>

namespace portcullis::scep {
namespace {

constexpr std::chrono::minutes kWindow{1};
constexpr const char* kOtherSources = "other";   // shared window once max_sources are tracked

}  // namespace

RefusalAudit::RefusalAudit(ca::AuditLog& ledger, RefusalAuditSettings settings)
    : ledger_(ledger), settings_(std::move(settings)) {
  if (settings_.background_writer) writer_ = std::jthread([this](std::stop_token stop) { writer_loop(stop); });
}

RefusalAudit::~RefusalAudit() {
  if (writer_.joinable()) {
    writer_.request_stop();
    writer_.join();
  }
  std::lock_guard write_lock(write_mutex_);
  std::vector<ca::AuditEntry> rows;
  {
    std::lock_guard lock(mutex_);
    rows = take_locked(now(), /*all=*/true);
  }
  write(std::move(rows));
}

RefusalAudit::Clock::time_point RefusalAudit::now() const { return settings_.clock ? settings_.clock() : Clock::now(); }

bool RefusalAudit::record(std::string_view remote_address, ca::AuditEntry row) {
  const Clock::time_point t = now();
  const std::string key = ca::peer_source_key(remote_address);
  std::lock_guard lock(mutex_);
  ++counters_.refused;
  Window& window = window_locked(key, t, row.at != 0 ? row.at : ca::now_unix());
  ++window.refused;
  if (window.refused <= settings_.rows_per_source_per_minute) return queue_locked(std::move(row));
  ++window.suppressed;
  ++counters_.suppressed;
  window.last = std::move(row);
  return false;
}

RefusalAudit::Window& RefusalAudit::window_locked(const std::string& key, Clock::time_point now, ca::UnixTime wall) {
  auto it = windows_.find(key);
  if (it == windows_.end()) {
    // The table is bounded: past max_sources, new sources share one window.
    const std::string& use = windows_.size() >= settings_.max_sources ? std::string(kOtherSources) : key;
    it = windows_.try_emplace(use, Window{now, wall, 0, 0, {}}).first;
  }
  Window& window = it->second;
  if (now - window.start >= kWindow) {
    if (window.suppressed > 0) queue_locked(summary_row(it->first, window));
    window = Window{now, wall, 0, 0, {}};
  }
  return window;
}

ca::AuditEntry RefusalAudit::summary_row(const std::string& key, const Window& window) {
  spdlog::warn("scep: suppressed {} refusal audit rows from {} (over {} a minute)", window.suppressed, key,
               settings_.rows_per_source_per_minute);
  return ca::AuditEntry{0,
                        ca::now_unix(),
                        ca::kRefusalActor,
                        ca::kRefusalSummaryAction,
                        key,
                        "suppressed " + std::to_string(window.suppressed) + " refusals from " + key +
                            " in the minute from " + std::to_string(window.started_at) + "; last: " +
                            window.last.detail};
}

bool RefusalAudit::queue_locked(ca::AuditEntry row) {
  if (queue_.size() >= settings_.max_queued) {
    ++counters_.dropped;
    return false;
  }
  queue_.push_back(std::move(row));
  if (queue_.size() >= settings_.flush_rows) wake_.notify_one();
  return true;
}

std::vector<ca::AuditEntry> RefusalAudit::take_locked(Clock::time_point now, bool all) {
  std::vector<ca::AuditEntry> rows;
  rows.swap(queue_);
  for (auto it = windows_.begin(); it != windows_.end();) {
    Window& window = it->second;
    const bool over = now - window.start >= kWindow;
    if ((over || all) && window.suppressed > 0) {
      rows.push_back(summary_row(it->first, window));
      window.suppressed = 0;
    }
    it = over ? windows_.erase(it) : std::next(it);
  }
  return rows;
}

void RefusalAudit::flush() {
  std::lock_guard write_lock(write_mutex_);
  std::vector<ca::AuditEntry> rows;
  {
    std::lock_guard lock(mutex_);
    rows = take_locked(now(), /*all=*/false);
  }
  write(std::move(rows));
}

void RefusalAudit::write(std::vector<ca::AuditEntry> rows) {
  if (rows.empty()) return;
  try {
    ledger_.append_refusals(rows, settings_.max_rows);
    std::lock_guard lock(mutex_);
    counters_.written += rows.size();
    ++counters_.transactions;
  } catch (const std::exception& e) {
    // The refusals stand either way; their rows are lost and counted.
    spdlog::error("scep: {} refusal audit rows not written: {}", rows.size(), e.what());
    std::lock_guard lock(mutex_);
    counters_.dropped += rows.size();
  }
}

void RefusalAudit::writer_loop(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    wake_.wait_for(lock, stop, settings_.flush_interval, [&] { return queue_.size() >= settings_.flush_rows; });
    if (stop.stop_requested()) break;
    lock.unlock();
    flush();
    lock.lock();
  }
}

RefusalCounters RefusalAudit::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace portcullis::scep
