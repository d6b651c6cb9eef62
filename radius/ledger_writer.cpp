#include "radius/ledger_writer.hpp"

#include <spdlog/spdlog.h>

namespace portcullis::radius {

LedgerWriter::LedgerWriter(ca::Ledger& ledger, Counters& counters, std::size_t capacity)
    : ledger_(ledger), counters_(counters), capacity_(capacity == 0 ? 1 : capacity), thread_([this] { run(); }) {}

LedgerWriter::~LedgerWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

bool LedgerWriter::submit(std::string what, Job job) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() < capacity_) {
      queue_.push_back(Item{std::move(what), std::move(job)});
      ++submitted_;
      wake_.notify_one();
      return true;
    }
  }
  bump(counters_.ledger_queue_full);
  log_full();
  return false;
}

void LedgerWriter::log_full() {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (now - last_full_log_ < std::chrono::seconds(1)) return;
  last_full_log_ = now;
  spdlog::warn("radius: ledger write queue full ({} waiting); write dropped (counter ledger_queue_full)", capacity_);
}

void LedgerWriter::flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = submitted_;
  idle_.wait(lock, [&] { return done_ >= target; });
}

std::size_t LedgerWriter::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void LedgerWriter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued has run
    Item item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    try {
      item.job(ledger_);
      ledger_full_.store(false, std::memory_order_relaxed);
    } catch (const ca::LedgerFull& e) {
      ledger_full_.store(true, std::memory_order_relaxed);
      bump(counters_.ledger_write_failed);
      spdlog::error("radius: ledger write failed, the disk is full ({}): {}", item.what, e.what());
    } catch (const ca::LedgerUnavailable& e) {
      // RFC 2866 §2: as with a full disk, accounting must not be answered while it cannot be
      // stored; the NAS retransmits until the database is back.
      ledger_full_.store(true, std::memory_order_relaxed);
      bump(counters_.ledger_write_failed);
      spdlog::error("radius: ledger write failed, the database is unreachable ({}): {}", item.what, e.what());
    } catch (const std::exception& e) {
      bump(counters_.ledger_write_failed);
      spdlog::error("radius: ledger write failed ({}): {}", item.what, e.what());
    }
    lock.lock();
    ++done_;
    idle_.notify_all();
  }
}

}  // namespace portcullis::radius
