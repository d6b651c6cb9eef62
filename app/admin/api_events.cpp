// Admin API: decision events (docs/events.md), newest first.
//   GET /api/v1/events?device=&mac=&nas=&serial=&kind=&outcome=&since=&limit=(100, 1..1000)&offset=
//     -> {"events":[E…],"limit":n,"offset":n}
//   E carries "text": the event in words, the sentence `why` says for it (why_words.cpp).
//   mac: any usual form (02:00:5e:10:00:01, 02-00-5E-…, 0200.5e10.0001, 02005e100001);
//   since: a duration back from now ("90s", "15m", "1h", "7d") or a time (admin::parse_time).
// Events reach the ledger in batches a fraction of a second after they happen.
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"
#include "app/admin/why_words.hpp"
#include "ca/event.hpp"
#include "ca/serial_text.hpp"

#include <charconv>

namespace portcullis::app {

using admin::ApiError;
using admin::json;

namespace {

constexpr std::size_t kMaxOffset = 10000000;

// "90s", "15m", "1h", "7d": seconds; nullopt for anything else.
std::optional<ca::UnixTime> duration_seconds(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc{} || end != text.data() + text.size() - 1 || n < 0 || n > 36500LL * 86400) return std::nullopt;
  switch (text.back()) {
    case 's': return n;
    case 'm': return n * 60;
    case 'h': return n * 3600;
    case 'd': return n * 86400;
    default: return std::nullopt;
  }
}

json event_json(ca::Ledger& ledger, const ca::Event& e) {
  json j{{"id", e.id},       {"time", admin::iso8601(e.at)}, {"kind", e.kind},     {"outcome", e.outcome},
         {"reason", e.reason}, {"detail", e.detail},          {"nas", e.nas},       {"nas_ip", e.nas_ip},
         {"mac", e.mac},     {"user_name", e.user_name},     {"ssid", e.ssid},     {"serial", e.serial},
         {"device", e.device}, {"issuer", e.issuer},          {"tls_version", e.tls_version},
         {"rule", e.rule},   {"duration_ms", e.duration_ms ? json(*e.duration_ms) : json(nullptr)},
         {"count", e.count},   {"text", why::event_words(ledger, e)}};
  if (e.kind == ca::event_kind::kScep) {
    j["requester"] = e.nas_ip;
    j["cn"] = e.cn;
    j["transaction_id"] = e.transaction_id;
  }
  if (e.kind == ca::event_kind::kRadsec) j["cn"] = e.cn;  // the refused certificate's subject CN
  return j;
}

std::optional<std::string> text_param(const std::map<std::string, std::string>& query, const char* name) {
  const std::string* value = admin::query_param(query, name);
  if (value == nullptr || value->empty()) return std::nullopt;
  return admin::checked_text(*value, name, 1, 255);
}

}  // namespace

HttpResponse AdminApi::list_events(const std::map<std::string, std::string>& query, ca::UnixTime now) {
  admin::check_query(query, {"device", "mac", "nas", "serial", "kind", "outcome", "since", "limit", "offset"});
  ca::EventFilter filter;
  filter.device = text_param(query, "device");
  filter.nas = text_param(query, "nas");
  filter.outcome = text_param(query, "outcome");
  if (auto kind = text_param(query, "kind")) {
    if (*kind != ca::event_kind::kRadius && *kind != ca::event_kind::kScep && *kind != ca::event_kind::kDynauth &&
        *kind != ca::event_kind::kNas && *kind != ca::event_kind::kRadsec)
      throw ApiError(400, "parameter 'kind' must be radius, scep, dynauth, nas or radsec");
    filter.kind = std::move(kind);
  }
  if (auto mac = text_param(query, "mac")) {
    filter.mac = ca::normalize_mac(*mac);
    if (!filter.mac) throw ApiError(400, "parameter 'mac' must be a MAC address (e.g. 02:00:5e:10:00:01)");
  }
  if (auto serial = text_param(query, "serial")) filter.serial = admin::checked_serial(*serial);
  if (auto since = text_param(query, "since")) {
    if (auto back = duration_seconds(*since)) filter.since = now - *back;
    else if (auto at = admin::parse_time(*since)) filter.since = *at;
    else throw ApiError(400, "parameter 'since' must be a duration (90s, 15m, 1h, 7d) or a time (2025-01-07, 2025-01-07T10:30:00Z)");
  }
  filter.limit = admin::count_param(query, "limit", 100, 1, 1000);
  filter.offset = admin::count_param(query, "offset", 0, 0, kMaxOffset);
  json list = json::array();
  ca::Ledger& ledger = registry_.ledger();
  for (const auto& e : ledger.events(filter)) list.push_back(event_json(ledger, e));
  return admin::json_response(200, json{{"events", std::move(list)}, {"limit", filter.limit}, {"offset", filter.offset}});
}

}  // namespace portcullis::app
