#include "ca/ledger/sqlite_group_commit.hpp"

namespace portcullis::ca::sqlite {

void GroupCommit::run(const std::function<void()>& unit) {
  Pending mine;
  mine.unit = &unit;
  std::unique_lock queue_lock(queue_mutex_);
  queue_.push_back(&mine);
  if (leading_) {
    // Each waiter sleeps on its own condition variable and is woken once: when its batch
    // has committed, or when it is handed the lead. One shared one woke every waiter after
    // every batch, and those queued behind it went back to sleep.
    mine.wake.wait(queue_lock, [&] { return mine.done || mine.lead; });
    if (mine.done) {
      queue_lock.unlock();
      if (mine.error) std::rethrow_exception(mine.error);
      return;
    }
  }
  // Lead: everything queued so far, ours included.
  leading_ = true;
  std::vector<Pending*> batch;
  batch.swap(queue_);
  queue_lock.unlock();
  const bool committed = commit_batch(batch);
  queue_lock.lock();
  if (committed) ++transactions_;
  for (Pending* p : batch) {
    p->done = true;
    if (p != &mine) p->wake.notify_one();
  }
  // The lead passes to the oldest waiter, who takes whatever queued up meanwhile.
  if (queue_.empty()) {
    leading_ = false;
  } else {
    queue_.front()->lead = true;
    queue_.front()->wake.notify_one();
  }
  // The waiters notified above wake to this lock, so none returns (and destroys its
  // Pending) before we are done with it.
  queue_lock.unlock();
  if (mine.error) std::rethrow_exception(mine.error);
}

bool GroupCommit::leading() {
  std::lock_guard lock(queue_mutex_);
  return leading_;
}

std::size_t GroupCommit::waiting() {
  std::lock_guard lock(queue_mutex_);
  return queue_.size();
}

std::uint64_t GroupCommit::transactions() {
  std::lock_guard lock(queue_mutex_);
  return transactions_;
}

bool GroupCommit::commit_batch(const std::vector<Pending*>& batch) noexcept {
  // Savepoints only where there is another unit to protect
  // (https://sqlite.org/lang_savepoint.html); a lone unit fails with its transaction.
  const bool isolate = batch.size() > 1;
  try {
    std::lock_guard db_lock(db_mutex_);
    Transaction tx(db_);
    for (Pending* p : batch) {
      if (isolate) db_.cached("SAVEPOINT unit")->run();
      try {
        (*p->unit)();
        if (isolate) db_.cached("RELEASE unit")->run();
      } catch (...) {
        p->error = std::current_exception();
        // An I/O error, a full disk or the like may make SQLite roll back the whole
        // transaction (https://sqlite.org/lang_transaction.html, "Response To Errors
        // Within A Transaction"): then no unit of this batch is recorded.
        if (!isolate || sqlite3_get_autocommit(db_.handle()) != 0) throw;
        db_.cached("ROLLBACK TO unit")->run();
        db_.cached("RELEASE unit")->run();
      }
    }
    tx.commit();
    return true;
  } catch (...) {
    // The transaction is gone (the guard rolled back what was left): every unit that had
    // succeeded in it fails with the reason.
    const std::exception_ptr lost = std::current_exception();
    for (Pending* p : batch) {
      if (!p->error) p->error = lost;
    }
    return false;
  }
}

}  // namespace portcullis::ca::sqlite
