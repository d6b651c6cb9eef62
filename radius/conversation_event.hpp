// The decision event of one RADIUS conversation (docs/events.md, kind "radius"), made from
// the facts of its request and what the TLS handshake learned about the peer.
//
// An event is made once per conversation, when it ends, and only when a sink is attached:
// the rounds in between keep nothing but the raw attribute values of the first request
// (StoredFacts, for an abandoned event). Normalising the MAC, cutting the SSID out of
// Called-Station-Id and printing the NAS address happen in conversation_event() alone.
#pragma once

#include "ca/event.hpp"
#include "radius/clients.hpp"
#include "radius/eap/tls_engine.hpp"
#include "radius/packet.hpp"

#include <string>
#include <string_view>

namespace portcullis::radius {

// Views into one Access-Request and its NAS entry: valid while those are.
struct RequestFacts {
  std::string_view nas;              // the NAS client entry's name
  IpAddress source;                  // where the request came from
  std::string_view calling_station;  // Calling-Station-Id as sent, "" when absent
  std::string_view user_name;        // User-Name as sent
  std::string_view called_station;   // Called-Station-Id as sent ("<BSSID>:<SSID>")
};
RequestFacts facts_of(const Packet& request, std::string_view nas, const IpAddress& source);

// An owned copy, for a conversation that outlives its requests.
struct StoredFacts {
  StoredFacts() = default;
  explicit StoredFacts(const RequestFacts& facts);
  RequestFacts view() const;

  std::string nas;
  IpAddress source;
  std::string calling_station;
  std::string user_name;
  std::string called_station;
};

// kind "radius" with the request's facts (MAC normalised, User-Name printable, SSID) and
// the certificate's (serial, device; the issuer of one the ledger does not know) filled
// in; the caller sets outcome, reason, detail, rule and the times.
ca::Event conversation_event(const RequestFacts& facts, const eap::TlsPeer* peer, std::string_view tls_version);

}  // namespace portcullis::radius
