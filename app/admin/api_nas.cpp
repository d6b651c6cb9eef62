// Admin API: the NAS clients as the service runs them, and what each did since it started.
//   GET /api/v1/nas ->
//     {"nas":[{"name","transport":"udp"|"radsec","address","groups":[…],"last_seen","last_seen_unix",
//              "counters":{"requests","accepts","rejects","dropped","accounting"},"connections"}…]}
//   in the config's order. last_seen: the last request that passed the shared secret's (or
//   RadSec's) check, null when none since start. requests counts every datagram or RadSec
//   packet from the client; dropped those discarded (malformed, failing the secret's
//   check); accepts and rejects the Access-Accepts and -Rejects sent; accounting the
//   Accounting-Requests. connections: open RadSec connections (0 for UDP). Counters live
//   in memory (radius/nas_activity.hpp): they start at 0 with the process and survive a
//   reload (SIGHUP) by NAS name.
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"

namespace portcullis::app {

using admin::json;

HttpResponse AdminApi::list_nas(const std::map<std::string, std::string>& query) {
  admin::check_query(query, {});
  json list = json::array();
  for (const NasSummary& nas : nas_list_ ? nas_list_() : std::vector<NasSummary>{}) {
    const radius::NasActivity* a = nas.activity.get();
    const auto read = [](const std::atomic<std::uint64_t>* counter) {
      return counter ? counter->load(std::memory_order_relaxed) : std::uint64_t{0};
    };
    const std::int64_t seen = a ? a->last_seen.load(std::memory_order_relaxed) : 0;
    list.push_back(json{{"name", nas.name},
                        {"transport", nas.transport},
                        {"address", nas.address},
                        {"groups", nas.groups},
                        {"last_seen", seen > 0 ? json(admin::iso8601(seen)) : json(nullptr)},
                        {"last_seen_unix", seen > 0 ? json(seen) : json(nullptr)},
                        {"counters",
                         {{"requests", read(a ? &a->requests : nullptr)},
                          {"accepts", read(a ? &a->accepts : nullptr)},
                          {"rejects", read(a ? &a->rejects : nullptr)},
                          {"dropped", read(a ? &a->dropped : nullptr)},
                          {"accounting", read(a ? &a->accounting : nullptr)}}},
                        {"connections", nas.connections}});
  }
  return admin::json_response(200, json{{"nas", std::move(list)}});
}

}  // namespace portcullis::app
