// Disconnect/CoA to a RadSec NAS as session control (app/session_control.hpp) sees it: sent
// down the NAS's own TLS connection while one is up ("reverse CoA",
// draft-ietf-radext-reverse-coa), with an Identifier (or a RADIUS/1.1 Token) of the
// server's own on that connection. The RadSec listener implements it.
#pragma once

#include "radius/dynauth.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace portcullis::app {

// A RadSec client entry as a Disconnect/CoA target.
struct RadsecDynauthTarget {
  // As a UDP Disconnect/CoA target would need it: coa_port, and as `secret` its coa_secret
  // (empty: no UDP).
  radius::NasClient udp;
  // dynauth_over_connection: false keeps requests off the NAS's connection, straight to UDP.
  bool over_connection = true;
};

class DynauthChannel {
 public:
  // The answer (ACK/NAK) or a timeout; nullopt when the connection closed first.
  using Done = std::function<void(std::optional<radius::DynauthResult>)>;
  virtual ~DynauthChannel() = default;

  // The RadSec client entry of NAS `nas` (NasClient::name); nullopt: `nas` is no RadSec client.
  virtual std::optional<RadsecDynauthTarget> radsec_client(const std::string& nas) const = 0;
  // Sends `request` (its target's secret and profile are set here) on the most recent open
  // connection of `nas`; false, and `done` never called, when it has none. `done` runs on
  // the io_context, never inside this call.
  virtual bool send_dynauth(const std::string& nas, radius::DynauthRequest request, std::chrono::milliseconds timeout,
                            Done done) = 0;
};

}  // namespace portcullis::app
