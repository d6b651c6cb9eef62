// RADIUS dictionary: attribute names <-> numbers, vendors and data types, value parsing
// for configured reply attributes, and readable packet dumps for debug logs.
// Backed by libfreeradius-radius (Debian 3.2.1) and its dictionaries; the library is
// confined to dictionary.cpp and never touches the wire path.
#pragma once

#include "radius/packet.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace portcullis::radius {

inline constexpr std::string_view kDefaultDictionaryDir = "/usr/share/freeradius";

class DictionaryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class DataType : std::uint8_t {
  String, Octets, Integer, Ipv4Address, Date, Ipv6Address, Ipv6Prefix, Ipv4Prefix,
  Byte, Short, Signed, Integer64, Ethernet, InterfaceId, Other,
};
const char* to_string(DataType t);

struct AttributeInfo {
  std::string name;
  std::uint32_t vendor = 0;  // 0 = RFC attribute space
  std::uint32_t type = 0;
  DataType data_type = DataType::Other;
  bool has_tag = false;      // RFC 2868 tagged
  bool secret = false;       // encrypted on the wire or flagged secret: never printed
};

class Dictionary {
 public:
  // Loads `dir`/dictionary (and every vendor dictionary it includes) once per process,
  // thread-safely; later calls return the same instance. After loading, lookups are
  // read-only and safe from any thread. Throws DictionaryError if loading fails, or if a
  // later call names a different directory (the library keeps one global dictionary and
  // must never be reloaded while threads use it).
  static const Dictionary& load(std::string_view dir = kDefaultDictionaryDir);

  // "Tunnel-Type", "Cisco-AVPair", ... (case-insensitive, as FreeRADIUS).
  std::optional<AttributeInfo> find(std::string_view name) const;
  std::optional<AttributeInfo> find(std::uint32_t vendor, std::uint32_t type) const;
  // The dictionary name, or FreeRADIUS' "Attr-26.<vendor>.<type>" / "Attr-<type>".
  std::string name_of(std::uint32_t vendor, std::uint32_t type) const;

  // One wire attribute from configuration text: `name` optionally carries an RFC 2868
  // tag as "Name:tag" (FreeRADIUS syntax) or `tag` gives it; `value` uses FreeRADIUS
  // value syntax (enumerated names such as "VLAN", integers, dotted quads, strings,
  // 0x-hex octets). Vendor attributes come back wrapped in Vendor-Specific (26).
  // Throws DictionaryError for unknown names, bad values, a tag on an untagged
  // attribute, attributes that need per-packet encryption (User-Password, MS-MPPE keys,
  // Tunnel-Password), and attributes outside the classic RFC 2865 space.
  Attribute parse_value(std::string_view name, std::string_view value, std::uint8_t tag = 0) const;

  Dictionary(const Dictionary&) = delete;
  Dictionary& operator=(const Dictionary&) = delete;

 private:
  Dictionary() = default;
};

}  // namespace portcullis::radius
