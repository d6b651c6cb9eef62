// Test oracle: libfreeradius-radius 3.2.1 encoding and decoding RADIUS packets, so the
// differential tests can check that our codec and the library agree byte for byte and
// attribute for attribute. Test-only; production code uses the library solely
// through radius/dictionary.cpp.
#pragma once

#include "radius/packet.hpp"

#include <optional>
#include <string>
#include <vector>

namespace portcullis::radius::oracle {

// One attribute to encode with the library: text in FreeRADIUS syntax, or raw octets.
struct Item {
  std::string name;
  std::optional<std::string> text;
  std::optional<Bytes> octets;
  int tag = 0;
};

// One decoded VALUE_PAIR, normalised: integers as 4 big-endian octets, addresses in
// network order, strings/octets as they are (MPPE keys decrypted, EAP-Message joined
// when the library joins them).
struct Pair {
  std::string name;
  std::uint32_t vendor = 0;
  std::uint32_t type = 0;
  int tag = 0;
  Bytes value;
  friend bool operator==(const Pair&, const Pair&) = default;
};

struct Decoded {
  bool ok = false;
  std::string error;  // which library step failed
  std::vector<Pair> pairs;
};

// rad_encode + rad_sign. For a reply, `authenticator` is the request's (the "original");
// for an Access-Request or Status-Server it is the packet's Request Authenticator.
Bytes encode(Code code, std::uint8_t identifier, const Authenticator& authenticator,
             const std::vector<Item>& items, const std::string& secret);

// rad_packet_ok + rad_verify + rad_decode. `request_authenticator` is required for
// replies and ignored for requests.
Decoded decode(ByteView wire, const std::string& secret, const Authenticator* request_authenticator = nullptr);

}  // namespace portcullis::radius::oracle
