// What the policy engine sees of one authentication (radius/ -> AccessContext -> policy/,
// docs/architecture.md "One EAP-TLS conversation"). The device comes from the
// certificate and the ledger index, never from User-Name; the NAS facts come from the
// Access-Request and the NAS table.
#pragma once

#include "ca/records.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::policy {

struct AccessContext {
  // The device and its certificate.
  std::int64_t device_id = 0;
  std::string device_name;
  std::vector<std::string> device_groups;  // groups/tags from the ledger
  std::string profile;                     // the certificate profile it was issued under
  std::string subject;                     // RFC 2253 form, e.g. "CN=laptop-7,O=Example"
  std::vector<std::string> sans;           // "DNS:host", "email:a@b", "URI:...", "IP:..."
  std::string serial_hex;
  ca::UnixTime cert_not_after = 0;
  // The NAS and the request.
  std::string nas_name;
  std::vector<std::string> nas_groups;     // [[radius.clients]] groups
  std::string called_station_id;           // raw; RFC 3580 §3.20: "MAC:SSID", the SSID follows the last ':'
  std::optional<std::uint32_t> nas_port_type;  // RFC 2865 §5.41 (19 = Wireless-802.11, 5 = Virtual, ...)
  std::string calling_station_id;
  ca::UnixTime now = 0;                    // wall clock
};

}  // namespace portcullis::policy
