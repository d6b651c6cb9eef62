#include "freeradius_oracle.hpp"

#include "radius/attribute_values.hpp"
#include "radius/dictionary.hpp"
#include "radius/third_party_shims/libradius.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace portcullis::radius::oracle {
namespace {

struct TallocFree {
  void operator()(void* p) const noexcept { talloc_free(p); }
};
using TallocCtx = std::unique_ptr<void, TallocFree>;

TallocCtx new_ctx() {
  TallocCtx c{talloc_new(nullptr)};
  if (!c) throw std::bad_alloc();
  return c;
}

std::string lib_error(const char* step) {
  const char* e = fr_strerror();
  return std::string(step) + ": " + (e != nullptr ? e : "");
}

Pair to_pair(const VALUE_PAIR* vp) {
  Pair p;
  p.name = vp->da->name;
  p.vendor = vp->da->vendor;
  p.type = vp->da->attr;
  p.tag = vp->da->flags.has_tag ? vp->tag : 0;
  switch (vp->da->type) {
    case PW_TYPE_INTEGER: case PW_TYPE_DATE: case PW_TYPE_SIGNED:
      p.value = encode_integer(vp->vp_integer);
      break;
    case PW_TYPE_IPV4_ADDR: {
      const auto* a = reinterpret_cast<const std::uint8_t*>(&vp->data.ipaddr.s_addr);
      p.value.assign(a, a + 4);
      break;
    }
    case PW_TYPE_STRING:
      p.value.assign(vp->vp_strvalue, vp->vp_strvalue + vp->vp_length);
      break;
    // The fixed-size types live inside value_data_t itself (data.octets is a pointer only
    // for octets-like types): each is read from its own member, numbers in network order.
    case PW_TYPE_BYTE:
      p.value = {vp->vp_byte};
      break;
    case PW_TYPE_SHORT:
      p.value = {static_cast<std::uint8_t>(vp->vp_short >> 8), static_cast<std::uint8_t>(vp->vp_short & 0xff)};
      break;
    case PW_TYPE_INTEGER64:
      for (int shift = 56; shift >= 0; shift -= 8) p.value.push_back(static_cast<std::uint8_t>(vp->vp_integer64 >> shift));
      break;
    case PW_TYPE_IFID:
      p.value.assign(vp->vp_ifid, vp->vp_ifid + sizeof(vp->vp_ifid));
      break;
    case PW_TYPE_IPV6_ADDR: {
      const auto* a = reinterpret_cast<const std::uint8_t*>(&vp->vp_ipv6addr);
      p.value.assign(a, a + 16);
      break;
    }
    case PW_TYPE_COMBO_IP_ADDR: {
      const bool v4 = vp->vp_length == 4;
      const auto* a = v4 ? reinterpret_cast<const std::uint8_t*>(&vp->data.ipaddr.s_addr)
                         : reinterpret_cast<const std::uint8_t*>(&vp->vp_ipv6addr);
      p.value.assign(a, a + (v4 ? 4 : 16));
      break;
    }
    case PW_TYPE_IPV6_PREFIX:
      p.value.assign(vp->vp_ipv6prefix, vp->vp_ipv6prefix + std::min<std::size_t>(vp->vp_length, 18));
      break;
    case PW_TYPE_IPV4_PREFIX:
      p.value.assign(vp->vp_ipv4prefix, vp->vp_ipv4prefix + std::min<std::size_t>(vp->vp_length, 6));
      break;
    case PW_TYPE_ETHERNET:
      p.value.assign(vp->vp_ether, vp->vp_ether + 6);
      break;
    case PW_TYPE_ABINARY: {
      const auto* f = reinterpret_cast<const std::uint8_t*>(vp->vp_filter);
      p.value.assign(f, f + std::min(vp->vp_length, sizeof(vp->vp_filter)));
      break;
    }
    default:  // octets and the other pointer-held types
      p.value.assign(vp->vp_octets, vp->vp_octets + vp->vp_length);
      break;
  }
  if (p.tag < 0) p.tag = 0;  // TAG_ANY/none
  return p;
}

}  // namespace

Bytes encode(Code code, std::uint8_t identifier, const Authenticator& authenticator,
             const std::vector<Item>& items, const std::string& secret) {
  (void)Dictionary::load();
  TallocCtx ctx = new_ctx();
  RADIUS_PACKET* packet = rad_alloc(ctx.get(), false);
  RADIUS_PACKET* original = rad_alloc(ctx.get(), false);
  if (packet == nullptr || original == nullptr) throw std::bad_alloc();
  packet->code = static_cast<unsigned>(code);
  packet->id = identifier;
  const bool reply = is_reply(code);
  if (reply) {
    original->code = static_cast<unsigned>(Code::AccessRequest);
    std::copy(authenticator.begin(), authenticator.end(), original->vector);
  } else {
    std::copy(authenticator.begin(), authenticator.end(), packet->vector);
  }
  for (const Item& it : items) {
    const DICT_ATTR* da = dict_attrbyname(it.name.c_str());
    if (da == nullptr) throw std::runtime_error("oracle: unknown attribute " + it.name);
    VALUE_PAIR* vp = fr_pair_afrom_da(packet, da);
    if (vp == nullptr) throw std::bad_alloc();
    if (it.octets) {
      if (da->type == PW_TYPE_STRING)
        fr_pair_value_bstrncpy(vp, it.octets->data(), it.octets->size());
      else
        fr_pair_value_memcpy(vp, it.octets->data(), it.octets->size());
    } else if (fr_pair_value_from_str(vp, it.text.value_or("").c_str(), it.text.value_or("").size()) < 0) {
      throw std::runtime_error(lib_error("oracle: fr_pair_value_from_str"));
    }
    vp->tag = static_cast<int8_t>(it.tag);
    fr_pair_add(&packet->vps, vp);
  }
  RADIUS_PACKET const* orig = reply ? original : nullptr;
  if (rad_encode(packet, orig, secret.c_str()) < 0) throw std::runtime_error(lib_error("oracle: rad_encode"));
  if (rad_sign(packet, orig, secret.c_str()) < 0) throw std::runtime_error(lib_error("oracle: rad_sign"));
  return Bytes(packet->data, packet->data + packet->data_len);
}

Decoded decode(ByteView wire, const std::string& secret, const Authenticator* request_authenticator) {
  (void)Dictionary::load();
  Decoded out;
  if (wire.size() < 20) {
    out.error = "short";
    return out;
  }
  TallocCtx ctx = new_ctx();
  RADIUS_PACKET* packet = rad_alloc(ctx.get(), false);
  RADIUS_PACKET* original = rad_alloc(ctx.get(), false);
  if (packet == nullptr || original == nullptr) throw std::bad_alloc();
  packet->data = static_cast<uint8_t*>(talloc_memdup(packet, wire.data(), wire.size()));
  packet->data_len = wire.size();
  packet->code = wire[0];
  packet->id = wire[1];
  std::copy_n(wire.begin() + 4, 16, packet->vector);
  const bool reply = is_reply(static_cast<Code>(wire[0]));
  if (reply) {
    if (request_authenticator == nullptr) throw std::invalid_argument("oracle: reply needs the request authenticator");
    original->code = static_cast<unsigned>(Code::AccessRequest);
    std::copy(request_authenticator->begin(), request_authenticator->end(), original->vector);
  }
  decode_fail_t reason = DECODE_FAIL_NONE;
  if (!rad_packet_ok(packet, 0, &reason)) {
    out.error = "rad_packet_ok failed, reason " + std::to_string(static_cast<int>(reason));
    return out;
  }
  RADIUS_PACKET* orig = reply ? original : nullptr;
  if (rad_verify(packet, orig, secret.c_str()) != 0) {
    out.error = lib_error("rad_verify");
    return out;
  }
  if (rad_decode(packet, orig, secret.c_str()) != 0) {
    out.error = lib_error("rad_decode");
    return out;
  }
  for (const VALUE_PAIR* vp = packet->vps; vp != nullptr; vp = vp->next) out.pairs.push_back(to_pair(vp));
  out.ok = true;
  return out;
}

}  // namespace portcullis::radius::oracle
