#include "radius/conversation_event.hpp"

#include "ca/log_text.hpp"
#include "policy/conditions.hpp"

namespace portcullis::radius {
namespace {

std::string_view value_of(const Packet& request, std::uint8_t type) {
  const Attribute* a = request.find(type);
  if (a == nullptr) return {};
  return {reinterpret_cast<const char*>(a->value.data()), a->value.size()};
}

}  // namespace

RequestFacts facts_of(const Packet& request, std::string_view nas, const IpAddress& source) {
  return RequestFacts{nas, source, value_of(request, attr::CallingStationId), value_of(request, attr::UserName),
                      value_of(request, attr::CalledStationId)};
}

StoredFacts::StoredFacts(const RequestFacts& facts)
    : nas(facts.nas),
      source(facts.source),
      calling_station(facts.calling_station),
      user_name(facts.user_name),
      called_station(facts.called_station) {}

RequestFacts StoredFacts::view() const { return {nas, source, calling_station, user_name, called_station}; }

ca::Event conversation_event(const RequestFacts& facts, const eap::TlsPeer* peer, std::string_view tls_version) {
  ca::Event event;
  event.kind = ca::event_kind::kRadius;
  event.nas = facts.nas;
  event.nas_ip = facts.source.to_string();
  if (auto mac = ca::normalize_mac(facts.calling_station)) event.mac = std::move(*mac);
  // Peer-chosen text: printable ASCII only, like every value that may reach a log line.
  if (!facts.user_name.empty()) event.user_name = ca::log_safe(facts.user_name);
  if (!facts.called_station.empty()) {
    if (auto ssid = policy::ssid_from_called_station(facts.called_station)) event.ssid = ca::log_safe(*ssid);
  }
  event.tls_version = tls_version;
  if (peer != nullptr) {
    event.serial = peer->serial_hex;
    event.device = peer->identity.device_name;
    // The issuer says most about a certificate the ledger does not know.
    if (peer->identity.verdict == ca::IdentityVerdict::unknown) event.issuer = peer->issuer;
  }
  return event;
}

}  // namespace portcullis::radius
