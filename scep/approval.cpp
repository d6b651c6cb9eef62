// Manual approval of held SCEP requests: issuance at approval time through ca::Issuer.
#include "scep/approval.hpp"

#include <spdlog/spdlog.h>

namespace portcullis::scep {

Approval approve_request(ca::Issuer& issuer, ca::Ledger& ledger, std::int64_t id, const std::string& actor) {
  const auto held = ledger.find_scep_request_by_id(id);
  if (!held) throw ca::LedgerNotFound("no SCEP request " + std::to_string(id));
  if (held->status != "pending")
    throw ca::LedgerConflict("SCEP request " + std::to_string(id) + " is " + held->status);

  ca::IssueRequest issue;
  issue.csr.assign(held->csr_der.begin(), held->csr_der.end());
  issue.profile = held->profile;
  issue.actor = actor;
  // The names the challenge pinned (or the device's), from the profile's templates: the
  // operator approves a device, not the names its CSR asked for.
  issue.names = issuer.names_for(held->profile, held->device_name, held->cn.empty() ? held->device_name : held->cn,
                                 held->sans);
  issue.device.name = held->device_name;
  issue.device.create_if_missing = held->create_device;
  // The transaction row lets the client's CertPoll (RFC 8894 §3.3.3) find the certificate;
  // approve_scep_request flips the request in the same ledger transaction (a concurrent
  // approval of the same request gets LedgerConflict or DuplicateTransaction, never a
  // second certificate).
  issue.device.scep_transaction = held->transaction;
  issue.device.approve_scep_request = id;

  Approval out;
  try {
    out.issued = issuer.issue(issue);
  } catch (const ca::DuplicateTransaction&) {
    throw ca::LedgerConflict("SCEP request " + std::to_string(id) + " was approved concurrently");
  }
  out.request = *ledger.find_scep_request_by_id(id);
  spdlog::info("scep: request {} approved by {}: certificate {} for device {}", id, actor,
               out.issued.record.serial_hex, out.issued.device.name);
  return out;
}

ca::ScepRequestRecord reject_request(ca::ScepTransactionStore& ledger, std::int64_t id, const std::string& reason,
                                     const std::string& actor) {
  ca::ScepRequestRecord out = ledger.reject_scep_request(id, reason, actor);
  spdlog::info("scep: request {} rejected by {}", id, actor);
  return out;
}

}  // namespace portcullis::scep
