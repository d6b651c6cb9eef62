#include "ca/ledger/event_writer.hpp"

#include <ctime>
#include <exception>
#include <utility>

namespace portcullis::ca {

EventWriter::EventWriter(EventStore& store, EventWriterSettings settings)
    : store_(store), settings_(std::move(settings)) {
  if (settings_.background) thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

EventWriter::~EventWriter() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
  flush();
}

UnixTime EventWriter::now() const {
  return settings_.clock ? settings_.clock() : static_cast<UnixTime>(std::time(nullptr));
}

void EventWriter::emit(Event event) noexcept {
  try {
    if (!well_formed(event)) {
      std::lock_guard lock(mutex_);
      ++counters_.dropped;
      return;
    }
    if (event.at == 0) event.at = now();
    bound_text(event);
    std::lock_guard lock(mutex_);
    if (queue_.size() >= settings_.capacity) {
      ++counters_.dropped;
      return;
    }
    queue_.push_back(std::move(event));
    ++counters_.emitted;
    if (queue_.size() >= settings_.batch) wake_.notify_one();
  } catch (...) {
    // bad_alloc copying the strings: the event is lost, the caller goes on.
    std::lock_guard lock(mutex_);
    ++counters_.dropped;
  }
}

void EventWriter::flush() noexcept {
  std::lock_guard write_lock(write_mutex_);
  // The queue takes over the last batch's storage: emit() then seldom grows a vector.
  std::vector<Event> batch = std::move(spare_);
  batch.clear();
  {
    std::lock_guard lock(mutex_);
    batch.swap(queue_);
  }
  if (batch.empty()) {
    spare_ = std::move(batch);
    return;
  }
  try {
    store_.append_events(batch);
    std::lock_guard lock(mutex_);
    counters_.written += batch.size();
    ++counters_.batches;
  } catch (const std::exception&) {
    // The decisions stand; their record is lost, and counted.
    std::lock_guard lock(mutex_);
    counters_.dropped += batch.size();
    ++counters_.store_errors;
  }
  batch.clear();
  spare_ = std::move(batch);
}

void EventWriter::prune() noexcept {
  std::lock_guard write_lock(write_mutex_);
  try {
    const std::size_t n = store_.prune_events(now() - settings_.keep_days * 86400, settings_.max_rows);
    std::lock_guard lock(mutex_);
    counters_.pruned += n;
  } catch (const std::exception&) {
    // Tried again at the next interval.
    std::lock_guard lock(mutex_);
    ++counters_.store_errors;
  }
}

void EventWriter::run(std::stop_token stop) {
  auto next_prune = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    wake_.wait_for(lock, stop, settings_.flush_interval, [&] { return queue_.size() >= settings_.batch; });
    lock.unlock();
    flush();
    if (std::chrono::steady_clock::now() >= next_prune) {
      prune();
      next_prune = std::chrono::steady_clock::now() + settings_.prune_interval;
    }
    lock.lock();
  }
}

EventWriterCounters EventWriter::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

std::size_t EventWriter::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace portcullis::ca
