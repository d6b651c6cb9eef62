// How long the ledger's write transactions take to commit: the COMMIT itself, which with
// `synchronous = FULL` is the WAL sync (https://sqlite.org/pragma.html#pragma_synchronous),
// the cost every issuance, revocation and audit batch waits for. The metrics in app/
// observe it; ca/ knows nothing of them.
#pragma once

#include <chrono>

namespace portcullis::ca {

class CommitObserver {
 public:
  virtual ~CommitObserver() = default;
  // Called on the committing thread with the ledger's writer lock held: must be cheap and
  // must not call back into the ledger. Only for commits that succeeded.
  virtual void committed(std::chrono::nanoseconds took) noexcept = 0;
};

}  // namespace portcullis::ca
