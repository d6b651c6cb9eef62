// Manual approval of held SCEP requests (RFC 8894 §3.3.2 PENDING): the operator's side,
// shared by the admin API (and through it the CLI). The client collects the outcome with
// its next CertPoll (§3.3.3), answered by scep::Enrollment from the ledger.
#pragma once

#include "ca/issuer.hpp"
#include "ca/ledger/ledger.hpp"

#include <cstdint>
#include <string>

namespace portcullis::scep {

struct Approval {
  ca::ScepRequestRecord request;   // after the change: status "approved", serial set
  ca::IssueResult issued;
};

// Issues the held CSR through ca::Issuer; the certificate row, the request's status and
// its SCEP transaction commit together. LedgerNotFound for an unknown id, LedgerConflict
// when the request is not pending (or the device is disabled), IssuanceRejected when the
// profile no longer accepts the CSR.
Approval approve_request(ca::Issuer& issuer, ca::Ledger& ledger, std::int64_t id, const std::string& actor);

// pending -> rejected; the client's next poll gets FAILURE badRequest.
ca::ScepRequestRecord reject_request(ca::ScepTransactionStore& ledger, std::int64_t id, const std::string& reason,
                                     const std::string& actor);

}  // namespace portcullis::scep
