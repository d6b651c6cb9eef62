// The only production translation unit that includes libfreeradius-radius.
#include "radius/dictionary.hpp"

#include "radius/attribute_values.hpp"
#include "radius/third_party_shims/libradius.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <memory>
#include <mutex>
#include <new>

namespace portcullis::radius {
namespace {

struct TallocFree {
  void operator()(void* p) const noexcept { talloc_free(p); }
};
// Everything the library allocates for one call hangs off one talloc context.
using TallocCtx = std::unique_ptr<void, TallocFree>;

TallocCtx new_ctx() {
  TallocCtx c{talloc_new(nullptr)};
  if (!c) throw std::bad_alloc();
  return c;
}

std::string library_error() {
  const char* e = fr_strerror();
  return (e != nullptr && *e != '\0') ? std::string(e) : std::string("unknown error");
}

DataType map_type(PW_TYPE t) {
  switch (t) {
    case PW_TYPE_STRING: return DataType::String;
    case PW_TYPE_OCTETS: return DataType::Octets;
    case PW_TYPE_INTEGER: return DataType::Integer;
    case PW_TYPE_IPV4_ADDR: return DataType::Ipv4Address;
    case PW_TYPE_DATE: return DataType::Date;
    case PW_TYPE_IPV6_ADDR: return DataType::Ipv6Address;
    case PW_TYPE_IPV6_PREFIX: return DataType::Ipv6Prefix;
    case PW_TYPE_IPV4_PREFIX: return DataType::Ipv4Prefix;
    case PW_TYPE_BYTE: return DataType::Byte;
    case PW_TYPE_SHORT: return DataType::Short;
    case PW_TYPE_SIGNED: return DataType::Signed;
    case PW_TYPE_INTEGER64: return DataType::Integer64;
    case PW_TYPE_ETHERNET: return DataType::Ethernet;
    case PW_TYPE_IFID: return DataType::InterfaceId;
    default: return DataType::Other;
  }
}

// Attributes whose values must never reach a log: encrypted with the shared secret
// (RFC 2865 §5.2, RFC 2868 §3.5, RFC 2548 §2.4.2/§2.4.3) or keyed integrity checks
// (RFC 2869 §5.14). Checked by number too, in case a dictionary lacks the flags.
bool is_secret_number(std::uint32_t vendor, std::uint32_t type) {
  if (vendor == 0)
    return type == attr::UserPassword || type == attr::TunnelPassword || type == attr::MessageAuthenticator;
  return vendor == vendor::Microsoft && (type == ms::MppeSendKey || type == ms::MppeRecvKey);
}

bool is_secret(const DICT_ATTR* da) {
  return da->flags.encrypt != FLAG_ENCRYPT_NONE || da->flags.secret || is_secret_number(da->vendor, da->attr);
}

// Vendors whose sub-attributes use the RFC 2865 §5.26 layout (1-octet type and length).
bool classic_vendor_layout(std::uint32_t vendor) {
  if (vendor == 0) return true;
  const DICT_VENDOR* v = dict_vendorbyvalue(static_cast<int>(vendor));
  return v != nullptr && v->type == 1 && v->length == 1;
}

// Attributes our codec can carry: 1..255 in the RFC space or in a classic-layout vendor,
// no TLVs or RFC 6929 extended formats, no server-internal (>255) attributes.
bool is_classic_wire_attribute(const DICT_ATTR* da) {
  if (da->attr < 1 || da->attr > 255) return false;
  if (da->flags.is_tlv || da->flags.has_tlv || da->flags.extended || da->flags.long_extended ||
      da->flags.evs || da->flags.wimax)
    return false;
  switch (da->type) {
    case PW_TYPE_TLV: case PW_TYPE_EXTENDED: case PW_TYPE_LONG_EXTENDED: case PW_TYPE_EVS:
    case PW_TYPE_VSA: case PW_TYPE_COMBO_IP_ADDR: case PW_TYPE_COMBO_IP_PREFIX:
      return false;
    default:
      break;
  }
  return da->vendor < FR_MAX_VENDOR && classic_vendor_layout(da->vendor);
}

AttributeInfo info_of(const DICT_ATTR* da) {
  AttributeInfo i;
  i.name = da->name;
  i.vendor = da->vendor;
  i.type = da->attr;
  i.data_type = map_type(da->type);
  i.has_tag = da->flags.has_tag != 0;
  i.secret = is_secret(da);
  return i;
}

std::once_flag g_load_once;
std::string g_loaded_dir;  // written once inside call_once, read-only afterwards

}  // namespace

const char* to_string(DataType t) {
  switch (t) {
    case DataType::String: return "string";
    case DataType::Octets: return "octets";
    case DataType::Integer: return "integer";
    case DataType::Ipv4Address: return "ipaddr";
    case DataType::Date: return "date";
    case DataType::Ipv6Address: return "ipv6addr";
    case DataType::Ipv6Prefix: return "ipv6prefix";
    case DataType::Ipv4Prefix: return "ipv4prefix";
    case DataType::Byte: return "byte";
    case DataType::Short: return "short";
    case DataType::Signed: return "signed";
    case DataType::Integer64: return "integer64";
    case DataType::Ethernet: return "ether";
    case DataType::InterfaceId: return "ifid";
    case DataType::Other: return "other";
  }
  return "other";
}

const Dictionary& Dictionary::load(std::string_view dir) {
  static Dictionary instance;
  // call_once retries if the first attempt threw, so a failed load can be retried
  // (before any thread relies on the dictionary).
  std::call_once(g_load_once, [&] {
    const std::string d(dir);
    if (dict_init(d.c_str(), "dictionary") < 0)
      throw DictionaryError("RADIUS dictionary: cannot load " + d + "/dictionary: " + library_error());
    g_loaded_dir = d;
  });
  if (dir != g_loaded_dir)
    throw DictionaryError("RADIUS dictionary: already loaded from " + g_loaded_dir + ", cannot load " + std::string(dir));
  return instance;
}

std::optional<AttributeInfo> Dictionary::find(std::string_view name) const {
  const std::string n(name);
  const DICT_ATTR* da = dict_attrbyname(n.c_str());
  if (da == nullptr) return std::nullopt;
  return info_of(da);
}

std::optional<AttributeInfo> Dictionary::find(std::uint32_t vendor, std::uint32_t type) const {
  const DICT_ATTR* da = dict_attrbyvalue(type, vendor);
  if (da == nullptr) return std::nullopt;
  return info_of(da);
}

std::string Dictionary::name_of(std::uint32_t vendor, std::uint32_t type) const {
  if (const DICT_ATTR* da = dict_attrbyvalue(type, vendor)) return da->name;
  if (vendor == 0) return "Attr-" + std::to_string(type);
  return "Attr-26." + std::to_string(vendor) + "." + std::to_string(type);
}

Attribute Dictionary::parse_value(std::string_view name_in, std::string_view value, std::uint8_t tag) const {
  std::string name(name_in);
  if (const auto colon = name.find(':'); colon != std::string::npos) {
    // FreeRADIUS tag syntax "Tunnel-Type:1" (RFC 2868 §3.1).
    unsigned parsed = 0;
    const char* first = name.data() + colon + 1;
    const char* last = name.data() + name.size();
    const auto [ptr, ec] = std::from_chars(first, last, parsed);
    if (ec != std::errc{} || ptr != last || first == last || parsed > 0x1F)
      throw DictionaryError("RADIUS dictionary: bad tag in '" + name + "' (expected Name:1..31)");
    if (tag != 0 && tag != parsed)
      throw DictionaryError("RADIUS dictionary: two different tags given for '" + name + "'");
    tag = static_cast<std::uint8_t>(parsed);
    name.resize(colon);
  }
  const DICT_ATTR* da = dict_attrbyname(name.c_str());
  if (da == nullptr) throw DictionaryError("RADIUS dictionary: unknown attribute '" + name + "'");
  if (is_secret(da))
    throw DictionaryError("RADIUS dictionary: " + name + " is encrypted per packet and cannot be a configured value");
  if (!is_classic_wire_attribute(da))
    throw DictionaryError("RADIUS dictionary: " + name +
                          " is not a classic RFC 2865 attribute (internal, extended, TLV or non-standard vendor layout)");
  if (tag > 0x1F) throw DictionaryError("RADIUS dictionary: tag for " + name + " must be 1..31 (RFC 2868)");
  if (tag != 0 && !da->flags.has_tag) throw DictionaryError("RADIUS dictionary: " + name + " does not take a tag");

  const std::string v(value);
  // The library would resolve a host name through DNS; configuration takes literal
  // addresses only, and the dotted quad must be complete (inet_pton, not inet_aton).
  if (da->type == PW_TYPE_IPV4_ADDR || da->type == PW_TYPE_IPV6_ADDR) {
    unsigned char probe[sizeof(struct in6_addr)];
    const int family = da->type == PW_TYPE_IPV4_ADDR ? AF_INET : AF_INET6;
    if (inet_pton(family, v.c_str(), probe) != 1)
      throw DictionaryError("RADIUS dictionary: " + name + " needs a literal " +
                            (family == AF_INET ? "IPv4" : "IPv6") + " address");
  }
  TallocCtx ctx = new_ctx();
  VALUE_PAIR* vp = fr_pair_afrom_da(ctx.get(), da);
  if (vp == nullptr) throw std::bad_alloc();
  if (fr_pair_value_from_str(vp, v.c_str(), v.size()) < 0)
    throw DictionaryError("RADIUS dictionary: bad value for " + name + ": " + library_error());
  std::uint8_t const* out = nullptr;
  const ssize_t n = rad_vp2data(&out, vp);
  if (n < 0 || (n > 0 && out == nullptr))
    throw DictionaryError("RADIUS dictionary: cannot encode " + name + ": " + library_error());
  Bytes data(out, out + n);

  if (da->flags.has_tag) {
    if (da->type == PW_TYPE_INTEGER) {
      // RFC 2868 §3.1: the tag takes the top octet of the 32-bit integer.
      if (data.size() != 4 || data[0] != 0)
        throw DictionaryError("RADIUS dictionary: " + name + " value must fit in 24 bits (RFC 2868)");
      data[0] = tag;
    } else {
      data = encode_tagged_string(tag, data);  // RFC 2868 §3.6
    }
  }
  const std::size_t limit = da->vendor == 0 ? kMaxAttributeValueLength : kMaxVendorValueLength;
  if (data.size() > limit)
    throw DictionaryError("RADIUS dictionary: value for " + name + " longer than " + std::to_string(limit) + " octets");
  if (da->vendor == 0) return Attribute{static_cast<std::uint8_t>(da->attr), std::move(data)};
  return Attribute{attr::VendorSpecific,
                   encode_vendor_specific(da->vendor, static_cast<std::uint8_t>(da->attr), data)};
}

}  // namespace portcullis::radius
