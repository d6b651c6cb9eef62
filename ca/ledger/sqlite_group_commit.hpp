// Group commit for the ledger's issuance writes.
//
// With `synchronous = FULL` every COMMIT syncs the WAL, and each issuance writes about
// twenty B-tree pages, most of them the same right-most leaves (certificates, audit,
// their time-ordered indexes). When several enrollments reach the ledger at once, the
// units of work waiting behind a commit in progress are run together in the next
// transaction, each under its own SAVEPOINT: one sync and one copy of the shared pages
// serve all of them, and a unit that fails (challenge already used, duplicate SCEP
// transaction, …) is rolled back alone. Nothing is acknowledged before the transaction
// holding it has committed, so durability is exactly that of one transaction per unit.
//
// The caller that finds no batch being committed leads: it takes every queued unit,
// commits them, wakes their callers, and hands the lead to the oldest waiter. Alone, a
// unit is committed at once, with no wait for company and no savepoint.
#pragma once

#include "ca/ledger/sqlite_db.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <vector>

namespace portcullis::ca::sqlite {

class GroupCommit {
 public:
  // `db_mutex` is what every other user of `db` locks; both outlive this object.
  GroupCommit(std::mutex& db_mutex, Connection& db) : db_mutex_(db_mutex), db_(db) {}

  // Runs `unit` inside a write transaction with db_mutex held, possibly together with
  // other callers' units, and returns once that transaction has committed. Rethrows what
  // `unit` threw (its changes are then rolled back), or the error that lost the whole
  // transaction (BEGIN, COMMIT, or an I/O error inside any unit of the batch).
  void run(const std::function<void()>& unit);

  // For tests and counters: whether a batch is being committed, the units queued behind
  // it, and transactions committed so far (fewer than units run when batches formed).
  bool leading();
  std::size_t waiting();
  std::uint64_t transactions();

 private:
  struct Pending {
    const std::function<void()>* unit = nullptr;
    std::exception_ptr error;
    bool done = false;             // its batch committed or failed; `error` is final
    bool lead = false;             // handed the lead: commit what is queued
    std::condition_variable wake;  // signalled for either, under queue_mutex_
  };

  // true when the transaction committed (some units may still have failed alone).
  bool commit_batch(const std::vector<Pending*>& batch) noexcept;

  std::mutex& db_mutex_;
  Connection& db_;
  std::mutex queue_mutex_;  // guards queue_, leading_ and every Pending's done and lead
  std::vector<Pending*> queue_;
  bool leading_ = false;
  std::uint64_t transactions_ = 0;
};

}  // namespace portcullis::ca::sqlite
