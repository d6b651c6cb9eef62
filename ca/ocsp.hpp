// OCSP responder (RFC 6960), answering from the in-memory index: good, revoked (time and
// reason) or unknown; the request nonce echoed (§4.4.1); signed by the issuing CA.
#pragma once

#include "ca/authority.hpp"
#include "ca/identity_index.hpp"

#include <cstddef>
#include <span>
#include <vector>

namespace portcullis::ca {

class OcspResponder {
 public:
  // Requests carrying more CertIDs than this get malformedRequest: it bounds the signing
  // and lookup work one unauthenticated request can cause.
  static constexpr std::size_t kMaxRequestsPerMessage = 32;

  OcspResponder(const Authority& authority, const IdentityView& identities, int validity_hours = 1);

  // Always returns a DER OCSPResponse: malformedRequest for garbage (§2.3), never throws
  // for bad input. Thread-safe.
  Bytes respond(std::span<const std::uint8_t> request_der, UnixTime now) const;

 private:
  // issuerNameHash / issuerKeyHash of the issuing CA (§4.1.1) under one digest. A CertID
  // names its own hash algorithm, so we keep one entry per digest we accept.
  struct IssuerHashes {
    int digest_nid = 0;
    Bytes name_hash;
    Bytes key_hash;
  };

  bool is_our_issuer(const OCSP_CERTID* id) const;
  Bytes respond_or_throw(std::span<const std::uint8_t> request_der, UnixTime now) const;

  const Authority& authority_;
  const IdentityView& identities_;
  int validity_hours_;
  X509Ptr signer_;                        // our own copy: OCSP_basic_sign wants a mutable X509
  std::vector<IssuerHashes> issuer_hashes_;   // precomputed for CertID matching
};

}  // namespace portcullis::ca
