// OCSP responder (RFC 6960), answering from the in-memory index: good, revoked (time and
// reason) or unknown; the request nonce echoed (§4.4.1); signed by the issuing CA.
#pragma once

#include "ca/authority.hpp"
#include "ca/identity_index.hpp"

#include <span>

namespace portcullis::ca {

class OcspResponder {
 public:
  OcspResponder(const Authority& authority, const IdentityView& identities, int validity_hours = 1);

  // Always returns a DER OCSPResponse: malformedRequest for garbage (§2.3), never throws
  // for bad input. Thread-safe.
  Bytes respond(std::span<const std::uint8_t> request_der, UnixTime now) const;

 private:
  const Authority& authority_;
  const IdentityView& identities_;
  int validity_hours_;
  Bytes issuer_name_hash_sha1_, issuer_key_hash_sha1_;   // precomputed for CertID matching
};

}  // namespace portcullis::ca
