// SCEP transactions (RFC 8894 §3.2.1.1 transactionID) and the requests held for manual
// approval (§3.3.2 PENDING).
#pragma once

#include "ca/records.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::ca {

// The SCEP transaction an issuance answers (RFC 8894 §3.2.1.1 transactionID), keyed with
// the requester's signing certificate: one client cannot collect another's certificate by
// guessing its transactionID, and a renewal is not mistaken for a retransmission even
// where the client derives the transactionID from a key it keeps (micromdm does).
struct ScepTransactionKey {
  std::string transaction_id;
  std::string requester_sha256;   // lowercase hex SHA-256 of the requester's signing certificate (DER)
};

// A SCEP enrollment waiting for manual approval (RFC 8894 §3.3.2 PENDING). It passed
// every check (signature, challenge, CSR policy); the challenge was spent when it was
// stored. The client's CertPoll finds it by its transaction key.
struct NewScepRequest {
  ScepTransactionKey transaction;
  std::string device_name;
  bool create_device = false;       // static challenge: the device (named by the CN) is created at approval
  std::string profile;
  std::string subject;              // the CSR subject, one line, for the operator
  std::vector<std::uint8_t> csr_der;
  std::optional<std::string> redeem_challenge_hash;   // marked used in the same transaction
  // What the challenge pinned, for the certificate issued at approval (ca/issued_names.hpp).
  std::string cn;                   // empty: the device name
  std::vector<std::string> sans;
};

struct ScepRequestRecord {
  std::int64_t id = 0;
  ScepTransactionKey transaction;
  std::string status;               // "pending" | "approved" | "rejected"
  std::string device_name;
  bool create_device = false;
  std::string profile;
  std::string subject;
  std::vector<std::uint8_t> csr_der;
  std::optional<std::string> serial;   // approved: the certificate issued
  UnixTime created_at = 0;
  std::optional<std::string> decided_by;
  std::optional<UnixTime> decided_at;
  std::string reason;               // rejected: the operator's reason
  std::string cn;                   // pinned CN; empty: the device name
  std::vector<std::string> sans;    // pinned SANs
};

// What a SCEP transaction was answered with, and the requests waiting for an operator.
class ScepTransactionStore {
 public:
  virtual ~ScepTransactionStore() = default;

  // The serial of the certificate a SCEP transaction was answered with.
  virtual std::optional<std::string> find_scep_transaction(const ScepTransactionKey& key) = 0;
  // Whether the key has a transaction row or a held request: one read for what every new
  // enrollment asks (and is told "no") before the detailed lookups.
  virtual bool scep_transaction_known(const ScepTransactionKey& key) = 0;
  // Pending requests (schema v4). create: one transaction with the challenge redemption
  // and the audit row "scep.pending"; ChallengeRefused, DuplicateTransaction when the key
  // already has a request. Approval goes through record_issuance (DeviceRef::approve_scep_request).
  virtual ScepRequestRecord create_scep_request(const NewScepRequest& request, const std::string& actor) = 0;
  virtual std::optional<ScepRequestRecord> find_scep_request(const ScepTransactionKey& key) = 0;
  virtual std::optional<ScepRequestRecord> find_scep_request_by_id(std::int64_t id) = 0;
  // Newest first; status empty = all.
  virtual std::vector<ScepRequestRecord> list_scep_requests(const std::string& status, std::size_t limit) = 0;
  // pending -> rejected with the audit row "scep.reject"; LedgerNotFound, LedgerConflict when not pending.
  virtual ScepRequestRecord reject_scep_request(std::int64_t id, const std::string& reason,
                                                const std::string& actor) = 0;
};

}  // namespace portcullis::ca
