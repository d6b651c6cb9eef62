// What the ledger throws. Every mutating call is one transaction: it either commits
// whole (data + audit row) or throws one of these and leaves nothing behind.
#pragma once

#include <stdexcept>

namespace portcullis::ca {

class LedgerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// A serial already present: the issuer draws a fresh serial and signs again.
class DuplicateSerial : public LedgerError {
 public:
  using LedgerError::LedgerError;
};
// A unique name already taken, an unknown device id, …: the caller's input is wrong.
class LedgerConflict : public LedgerError {
 public:
  using LedgerError::LedgerError;
};
class LedgerNotFound : public LedgerError {
 public:
  using LedgerError::LedgerError;
};
// The storage has no room for the write (disk full): nothing was written, and the same
// request succeeds once space is freed, without a restart. Callers answer "unavailable,
// retry later" rather than "internal error".
class LedgerFull : public LedgerError {
 public:
  using LedgerError::LedgerError;
};
// The database cannot be reached (a server ledger: down, restarting, partitioned). Nothing
// was written; the same call may succeed later.
class LedgerUnavailable : public LedgerError {
 public:
  using LedgerError::LedgerError;
};
// record_issuance: the challenge to redeem is unknown, expired or already used.
class ChallengeRefused : public LedgerConflict {
 public:
  using LedgerConflict::LedgerConflict;
};
// record_issuance: the SCEP transaction already has its certificate.
class DuplicateTransaction : public LedgerConflict {
 public:
  using LedgerConflict::LedgerConflict;
};

}  // namespace portcullis::ca
