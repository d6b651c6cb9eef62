// MD5 and HMAC-MD5 for the RADIUS authenticators (RFC 2865 §3, RFC 2869 §5.14,
// RFC 3579 §3.2) and RFC 2548 salt encryption, on OpenSSL 3 (MD5 is in the default
// provider). RAII owners for the OpenSSL objects used here live in this file too.
#pragma once

#include "ca/x509.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string_view>

namespace portcullis::radius {

// The project's one family of OpenSSL RAII pointers (ca/x509.hpp, header only).
using ca::EvpMacCtxPtr;
using ca::EvpMacPtr;
using ca::EvpMdCtxPtr;
using ca::EvpMdPtr;

using Digest16 = std::array<std::uint8_t, 16>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// MD5 over the concatenation of `parts`. Throws std::runtime_error on OpenSSL failure
// (the message never carries input bytes).
Digest16 md5(std::initializer_list<ByteView> parts);

// HMAC-MD5(key, concatenation of `parts`).
Digest16 hmac_md5(ByteView key, std::initializer_list<ByteView> parts);


}  // namespace portcullis::radius
