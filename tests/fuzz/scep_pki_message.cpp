// SCEP pkiMessage parsing (RFC 8894 §3): the outer CMS SignedData, its signed attributes,
// the signer, and the pkcsPKIEnvelope decrypted with the real RA key, then the CSR or
// IssuerAndSerialNumber inside. A message the parser cannot use is MalformedMessage;
// anything else escaping is a finding.
#include "scep/pki_message.hpp"
#include "support/ca_stack.hpp"

using namespace portcullis;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& stack = fuzz::CaStack::get();
  static const scep::CryptoPolicy policies[2] = {scep::CryptoPolicy{false}, scep::CryptoPolicy{true}};
  static const bool legacy = [] {
    scep::enable_legacy_crypto();
    return true;
  }();
  (void)legacy;
  if (size < 1) return 0;
  try {
    const scep::PkiRequest r = scep::parse_request(std::span(data + 1, size - 1), stack.authority().ra(),
                                                   stack.authority().ra_key(), policies[data[0] & 1]);
    if (!r.failure && (r.type == scep::MessageType::pkcs_req || r.type == scep::MessageType::renewal_req) && !r.csr) {
      __builtin_trap();  // a request to sign without a CSR must not parse as a good one
    }
  } catch (const scep::MalformedMessage&) {
  }
  return 0;
}
