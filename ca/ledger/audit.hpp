// The audit log: append-only rows of who did what, plus the bounded rows of refused SCEP
// requests.
#pragma once

#include "ca/records.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::ca {

// The audit rows of refused SCEP requests (append_refusals).
inline constexpr const char* kRefusalActor = "scep";
inline constexpr const char* kRefusalAction = "scep.reject";
inline constexpr const char* kRefusalSummaryAction = "scep.reject.suppressed";   // N refusals counted, not written

struct AuditFilter {
  std::optional<std::string> target;
  std::optional<std::string> action;
  std::size_t limit = 200;        // newest first
};

// Append-only, except that refusal rows beyond their bound are deleted oldest first.
class AuditLog {
 public:
  virtual ~AuditLog() = default;

  // LedgerConflict for an empty action, and for a refusal row (kRefusalActor with a
  // refusal action): those go through append_refusals.
  virtual void append_audit(const AuditEntry& entry) = 0;
  virtual std::vector<AuditEntry> audit(const AuditFilter& filter) = 0;
  // Rows for refused SCEP requests, which anyone reaching the public port can cause: all
  // in one transaction, shared with concurrent issuances (one sync for the lot). Then the
  // oldest refusal rows beyond `keep` are deleted, the one exception to append-only.
  // Every row must have actor kRefusalActor and action kRefusalAction or
  // kRefusalSummaryAction (LedgerConflict otherwise, nothing written).
  virtual void append_refusals(const std::vector<AuditEntry>& rows, std::size_t keep) = 0;
};

}  // namespace portcullis::ca
