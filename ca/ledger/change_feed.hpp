// Changes committed to a shared ledger, for the other nodes' in-memory index (ca/
// identity_index.hpp): which certificate or device changed, in commit-sequence order,
// and a wake-up when a node commits one. Only a ledger several nodes share has one
// (Ledger::change_feed); the SQLite ledger belongs to one process, whose Registry updates
// its index itself.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace portcullis::ca {

inline constexpr const char* kChangeCertificate = "certificate";   // key: the canonical serial
inline constexpr const char* kChangeDevice = "device";             // key: the device id

struct LedgerChange {
  std::int64_t seq = 0;   // increasing; a gap is a change still committing, or one rolled back
  std::string kind;
  std::string key;
};

class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;

  // The changes with seq > after, oldest first, at most `limit`.
  virtual std::vector<LedgerChange> changes_after(std::int64_t after, std::size_t limit) = 0;
  // The newest seq committed so far (0: none).
  virtual std::int64_t last_change() = 0;
  // Waits up to `timeout` for word that some node committed a change: true when it came.
  // One caller at a time. Throws LedgerError when the listening connection is lost; the
  // next call listens again (and the caller catches up with changes_after).
  virtual bool wait_for_change(std::chrono::milliseconds timeout) = 0;
};

}  // namespace portcullis::ca
