// What each NAS client did since the service started, for `portcullis nas list` and
// GET /api/v1/nas: counted on the request path with relaxed atomic increments (no lock,
// no allocation), read when asked. Kept by NAS name across reloads of the client table.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace portcullis::radius {

struct NasActivity {
  std::atomic<std::uint64_t> requests{0};    // datagrams (or RadSec packets) from the client
  std::atomic<std::uint64_t> accepts{0};     // Access-Accepts sent
  std::atomic<std::uint64_t> rejects{0};     // Access-Rejects sent
  std::atomic<std::uint64_t> dropped{0};     // discarded: malformed, or failing the secret's check
  std::atomic<std::uint64_t> accounting{0};  // Accounting-Requests answered or not
  std::atomic<std::int64_t> last_seen{0};    // unix seconds of the last authentic request; 0 = never

  void count(std::atomic<std::uint64_t>& counter) noexcept { counter.fetch_add(1, std::memory_order_relaxed); }
};

// One NasActivity per NAS name, made on first use and kept for the process's life, so a
// client keeps its counters when SIGHUP rebuilds the table it is in.
class NasActivities {
 public:
  std::shared_ptr<NasActivity> for_name(const std::string& name) {
    std::lock_guard lock(mutex_);
    auto& slot = by_name_[name];
    if (!slot) slot = std::make_shared<NasActivity>();
    return slot;
  }
  // Null for a name never counted.
  std::shared_ptr<const NasActivity> find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    const auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<NasActivity>> by_name_;
};

}  // namespace portcullis::radius
