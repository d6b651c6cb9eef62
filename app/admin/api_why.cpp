// Admin API: why a device, MAC or certificate is (not) let in, in plain words.
//   GET /api/v1/why/{target}  target: a MAC in any usual form, a certificate serial, a device
//     name or id (for enrollment also the CN a SCEP request asked for) ->
//     {"target","looked_up_as":"mac|serial|device","verdict":"accepted|rejected|pending|never_seen",
//      "summary":"…","latest":[{"nas","ssid","time","outcome","reason","device","serial","mac",
//      "explanation",["quiet","nas_last_request"]}…],"enrollment":{"time","outcome","reason","cn",
//      "device","serial","requester","explanation"}|null,"radsec":{"time","outcome","reason","nas","nas_ip",
//      "serial","explanation"}|null}
// The latest RADIUS outcome per NAS and SSID (the newest first) and the latest SCEP outcome
// from the decision events (docs/events.md), each explained with what to do next
// (why_words.cpp). The verdict is the newest of them. `portcullis why` prints `summary` and
// exits 0 (accepted), 2 (rejected or pending) or 1 (never seen).
#include "app/admin/api.hpp"

#include "app/admin/json.hpp"
#include "app/admin/why_words.hpp"
#include "ca/event.hpp"

#include <cctype>
#include <set>
#include <utility>

namespace portcullis::app {

using admin::ApiError;
using admin::json;

namespace {

constexpr std::size_t kEventsLooked = 500;       // newest RADIUS events of the target considered
constexpr ca::UnixTime kQuietSeconds = 3600;     // a device silent this long gets the NAS's last request

// What the target names, as the event filters that find its events.
struct Lookup {
  std::string as;                       // mac | serial | device
  ca::EventFilter radius;
  std::vector<ca::EventFilter> scep;    // its SCEP events, by each name they may carry
};

ca::EventFilter filter_of(const char* kind, std::size_t limit) {
  ca::EventFilter f;
  f.kind = kind;
  f.limit = limit;
  return f;
}

bool has_events(ca::Ledger& ledger, ca::EventFilter f) {
  f.limit = 1;
  return !ledger.events(f).empty();
}

// A serial the ledger holds, or one events name (a foreign certificate's) that is not also
// a MAC: twelve hex digits could be either.
std::optional<Lookup> as_serial(ca::Ledger& ledger, const std::string& target, bool is_mac) {
  std::optional<std::string> serial;
  try {
    serial = admin::checked_serial(target);
  } catch (const ApiError&) {
    return std::nullopt;   // not a serial: a MAC or a device name
  }
  Lookup l{"serial", filter_of(ca::event_kind::kRadius, kEventsLooked), {filter_of(ca::event_kind::kScep, 1)}};
  l.radius.serial = serial;
  l.scep[0].serial = serial;
  if (ledger.find_certificate(*serial) || (!is_mac && (has_events(ledger, l.radius) || has_events(ledger, l.scep[0]))))
    return l;
  return std::nullopt;
}

// A device name or id; its SCEP requests also by the CN they asked for, since a refused
// one may name no device (a wrong challenge).
Lookup as_device(ca::Ledger& ledger, const std::string& target) {
  std::string name = target;
  if (admin::all_digits(target) && target.size() <= 18) {
    if (auto d = ledger.find_device(std::stoll(target))) name = d->name;
  }
  Lookup l{"device", filter_of(ca::event_kind::kRadius, kEventsLooked),
           {filter_of(ca::event_kind::kScep, 1), filter_of(ca::event_kind::kScep, 1)}};
  l.radius.device = name;
  l.scep[0].device = name;
  l.scep[1].cn = name;
  return l;
}

Lookup resolve(ca::Ledger& ledger, const std::string& target) {
  auto mac = ca::normalize_mac(target);
  if (auto serial = as_serial(ledger, target, mac.has_value())) return std::move(*serial);
  if (!mac) return as_device(ledger, target);
  Lookup l{"mac", filter_of(ca::event_kind::kRadius, kEventsLooked), {}};
  l.radius.mac = std::move(mac);
  return l;
}

bool newer(const ca::Event& a, const ca::Event& b) { return a.at != b.at ? a.at > b.at : a.id > b.id; }

std::optional<ca::Event> newest_of(ca::Ledger& ledger, const std::vector<ca::EventFilter>& filters) {
  std::optional<ca::Event> best;
  for (const auto& f : filters) {
    for (auto& e : ledger.events(f))
      if (!best || newer(e, *best)) best = std::move(e);
  }
  return best;
}

// The newest request a NAS sent: a decided conversation, or a datagram it dropped.
std::optional<ca::Event> nas_last_request(ca::Ledger& ledger, const std::string& nas) {
  ca::EventFilter radius = filter_of(ca::event_kind::kRadius, 1);
  radius.nas = nas;
  ca::EventFilter dropped = filter_of(ca::event_kind::kNas, 1);
  dropped.nas = nas;
  return newest_of(ledger, {radius, dropped});
}

// When the device has been silent on a NAS for kQuietSeconds: whether the NAS has carried
// other requests since, which tells a device that stopped trying from a NAS that stopped
// asking us. Empty when the device is not quiet.
std::pair<std::string, std::optional<ca::Event>> quiet_words(ca::Ledger& ledger, const ca::Event& e,
                                                              ca::UnixTime now) {
  if (e.nas.empty() || now - e.at < kQuietSeconds) return {};
  auto last = nas_last_request(ledger, e.nas);
  const std::string since = "nothing from the device since " + admin::iso8601(e.at);
  if (last && newer(*last, e))
    return {since + ": the last request from its NAS " + e.nas + " was at " + admin::iso8601(last->at) +
                ", so the device is not reaching it (out of range, switched off, or its Wi-Fi profile removed)",
            std::move(last)};
  return {since + ", and nothing from its NAS " + e.nas + " either: check that " + e.nas +
              " still sends its requests to this server",
          std::move(last)};
}

struct Answer {
  json latest = json::array();
  json enrollment = nullptr;
  json radsec = nullptr;
  std::string summary;
  std::optional<ca::Event> newest;   // decides the verdict

  void add(std::string sentence, const ca::Event& e) {
    summary += (summary.empty() ? "" : " ") + std::move(sentence);
    if (!newest || newer(e, *newest)) newest = e;
  }
};

void add_radius(ca::Ledger& ledger, Answer& a, const ca::Event& e, ca::UnixTime now) {
  const std::string words = why::radius_words(ledger, e);
  json entry{{"nas", e.nas},       {"ssid", e.ssid},       {"time", admin::iso8601(e.at)}, {"outcome", e.outcome},
             {"reason", e.reason}, {"device", e.device},   {"serial", e.serial},           {"mac", e.mac},
             {"explanation", words}};
  std::string sentence = "On NAS " + e.nas + (e.ssid.empty() ? "" : " (SSID " + e.ssid + ")") + " at " +
                         admin::iso8601(e.at) + ": " + words + ".";
  if (auto [quiet, last] = quiet_words(ledger, e, now); !quiet.empty()) {
    entry["quiet"] = quiet;
    entry["nas_last_request"] = last ? json(admin::iso8601(last->at)) : json(nullptr);
    quiet[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(quiet[0])));
    sentence += " " + quiet + ".";
  }
  a.latest.push_back(std::move(entry));
  a.add(std::move(sentence), e);
}

void add_scep(Answer& a, const ca::Event& e) {
  const std::string words = why::scep_words(e);
  a.enrollment = json{{"time", admin::iso8601(e.at)}, {"outcome", e.outcome}, {"reason", e.reason},
                      {"cn", e.cn},                   {"device", e.device},   {"serial", e.serial},
                      {"requester", e.nas_ip},        {"explanation", words}};
  a.add("Enrollment (SCEP) at " + admin::iso8601(e.at) + " from " + e.nas_ip +
            (e.cn.empty() ? "" : " for CN " + e.cn) + ": " + words + ".",
        e);
}

void add_radsec(Answer& a, const ca::Event& e) {
  const std::string words = why::radsec_words(e);
  a.radsec = json{{"time", admin::iso8601(e.at)}, {"outcome", e.outcome}, {"reason", e.reason}, {"nas", e.nas},
                  {"nas_ip", e.nas_ip},          {"serial", e.serial},   {"explanation", words}};
  a.add("RadSec connection from " + e.nas_ip + " at " + admin::iso8601(e.at) + " refused: " + words + ".", e);
}

std::string verdict_of(const std::optional<ca::Event>& e) {
  if (!e) return "never_seen";
  if (e->outcome == "accept" || e->outcome == "issued" || e->outcome == "renewed" || e->outcome == "approved")
    return "accepted";
  return e->outcome == "pending" ? "pending" : "rejected";
}

}  // namespace

HttpResponse AdminApi::why(const std::map<std::string, std::string>& query, const std::string& target,
                           ca::UnixTime now) {
  admin::check_query(query, {});
  if (target.empty() || target.size() > 255) throw ApiError(400, "a device, MAC or serial is needed");
  ca::Ledger& ledger = registry_.ledger();
  const Lookup lookup = resolve(ledger, target);

  Answer answer;
  std::set<std::pair<std::string, std::string>> seen;
  for (const ca::Event& e : ledger.events(lookup.radius)) {
    if (seen.insert({e.nas, e.ssid}).second) add_radius(ledger, answer, e, now);
  }
  if (auto scep = newest_of(ledger, lookup.scep)) add_scep(answer, *scep);
  // A NAS certificate (by serial) or a NAS's device: its newest refused RadSec connection.
  // Admitted connections make no event, so it decides the verdict only when it is newest.
  if (lookup.as != "mac") {
    ca::EventFilter radsec = lookup.radius;
    radsec.kind = ca::event_kind::kRadsec;
    radsec.limit = 1;
    std::vector<ca::EventFilter> filters{radsec};
    if (lookup.as == "device") {  // also by the RadSec client a foreign certificate named
      radsec.nas = std::exchange(radsec.device, std::nullopt);
      filters.push_back(radsec);
    }
    if (auto e = newest_of(ledger, filters)) add_radsec(answer, *e);
  }
  if (!answer.newest) {
    answer.summary = "nothing from " + target + " in the decision events (as " + lookup.as +
                     "; events are kept for [events] keep_days)";
  }
  return admin::json_response(200, json{{"target", target},
                                        {"looked_up_as", lookup.as},
                                        {"verdict", verdict_of(answer.newest)},
                                        {"summary", std::move(answer.summary)},
                                        {"latest", std::move(answer.latest)},
                                        {"enrollment", std::move(answer.enrollment)},
                                        {"radsec", std::move(answer.radsec)}});
}

}  // namespace portcullis::app
