// A decision event: one line of "why" for each RADIUS conversation, SCEP operation,
// RFC 5176 Disconnect/CoA and NAS-level drop (docs/events.md lists the vocabulary).
//
// Emitters (radius/, scep/, app/session_control) know only EventSink: emit() hands the
// event over and returns at once, whatever the store does. The store and its query are
// ca/ledger/events.hpp; the queue that connects them is ca/ledger/event_writer.hpp.
#pragma once

#include "ca/records.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::ca {

namespace event_kind {
inline constexpr const char* kRadius = "radius";
inline constexpr const char* kScep = "scep";
inline constexpr const char* kDynauth = "dynauth";
inline constexpr const char* kNas = "nas";
inline constexpr const char* kRadsec = "radsec";  // RadSec connections refused
}  // namespace event_kind

struct Event {
  std::int64_t id = 0;          // assigned by the store; newest is largest
  UnixTime at = 0;              // seconds since the epoch, UTC
  std::string kind;             // event_kind::*
  std::string outcome;          // radius: accept|reject|abandoned; scep: issued|renewed|pending|approved|reject; …
  std::string reason;           // the fixed vocabulary (docs/events.md)
  std::string detail;           // one sentence in words
  std::string nas;              // NAS client name (radius, dynauth, nas)
  std::string nas_ip;           // address the NAS sent from (or the SCEP requester's address)
  std::string mac;              // aa:bb:cc:dd:ee:ff, "" when unknown
  std::string user_name;
  std::string ssid;
  std::string serial;           // canonical uppercase hex
  std::string device;           // device name in the ledger
  std::string issuer;           // the certificate's issuer (a foreign certificate's, mostly)
  std::string tls_version;
  std::string rule;             // the policy rule that decided
  std::optional<std::int64_t> duration_ms;
  // SCEP
  std::string cn;
  std::string transaction_id;
  // Aggregated events (NAS-level drops): how many occurrences this one stands for.
  std::int64_t count = 1;
};

// Where emitters put events. emit() never blocks on I/O and never throws: an event that
// cannot be kept is dropped and counted by the implementation.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void emit(Event event) noexcept = 0;
};

// Every text field of an event is cut to this many bytes (on a UTF-8 character boundary):
// the values come from peers (User-Name, Called-Station-Id, certificate names, CNs), and a
// hostile one must not bloat the rows, the queue or what `why` prints.
inline constexpr std::size_t kEventTextMax = 256;
void bound_text(Event& event);
// `text` cut to at most `max` bytes without splitting a UTF-8 character.
std::string_view utf8_prefix(std::string_view text, std::size_t max);
// An event the store can take: its kind one of event_kind::*, with an outcome.
bool well_formed(const Event& event);

// A MAC address in any usual form (02:00:5e:10:00:01, 02-00-5E-10-00-01, 0200.5e10.0001,
// 02005e100001) as aa:bb:cc:dd:ee:ff; nullopt when `text` is not 12 hex digits with at
// most those separators.
std::optional<std::string> normalize_mac(std::string_view text);

}  // namespace portcullis::ca
