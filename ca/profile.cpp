// The built-in certificate profiles. Deployments override them in the config; these are the
// defaults `portcullis init` writes out.
#include "ca/profile.hpp"

namespace portcullis::ca {

Profiles default_profiles() {
  Profiles profiles;

  // Devices authenticating with EAP-TLS (and VPN clients): TLS client auth only. The URI
  // type is allowed because Intune adds an "IntuneDeviceId://…" URI SAN to SCEP requests.
  Profile device;
  device.name = "device";
  device.validity_days = 365;
  device.extended_key_usage = {"clientAuth"};
  device.allowed_san_types = {"dns", "email", "uri"};
  profiles.emplace(device.name, device);

  // Servers (RADIUS peers, VPN gateways): TLS server auth; names and addresses only.
  Profile server;
  server.name = "server";
  server.validity_days = 730;
  server.extended_key_usage = {"serverAuth"};
  server.allowed_san_types = {"dns", "ip"};
  profiles.emplace(server.name, server);

  // NAS clients speaking RadSec (RFC 6614 §2.3, `portcullis nas certificate`): the NAS is the
  // TLS client towards us, and serverAuth too because a RadSec peer may also accept
  // connections (dynamic discovery, RFC 7585; a proxy's server side).
  Profile nas;
  nas.name = kNasProfile;
  nas.validity_days = 730;
  nas.extended_key_usage = {"clientAuth", "serverAuth"};
  nas.allowed_san_types = {"dns", "ip"};
  profiles.emplace(nas.name, nas);

  return profiles;
}

}  // namespace portcullis::ca
