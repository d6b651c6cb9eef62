// SCEP pkiMessage parsing (RFC 8894 §3): the outer CMS SignedData, its signed attributes,
// the signer, and the pkcsPKIEnvelope decrypted with the real RA key, then the CSR or
// IssuerAndSerialNumber inside. A message the parser cannot use is MalformedMessage;
// anything else escaping is a finding.
// Input: one octet, then bytes. Bit 0 allows legacy crypto (single DES, SHA-1). Without
// bit 1 the bytes are the whole pkiMessage. With it they are the pkcsPKIEnvelope's
// content (a CSR, an IssuerAndSerialNumber, ...), which the target encrypts to the RA and
// signs (support/scep_wrap.hpp), messageType chosen by bits 2-4: mutations then reach
// the inner parsers instead of failing the signature. The CA is made at startup, so a
// recorded whole pkiMessage stops at its decryption; its content is a seed of its own.
#include "scep/pki_message.hpp"
#include "support/ca_stack.hpp"
#include "support/scep_wrap.hpp"

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
  ca::Bytes wrapped;
  std::span<const std::uint8_t> message(data + 1, size - 1);
  if ((data[0] & 2) != 0) {
    if (message.empty()) return 0;  // the test requester's BIO cannot wrap nothing
    static const char* const types[] = {"19", "17", "20", "21", "22", "3", "99", ""};
    wrapped = fuzz::wrap_for_ra(message, types[(data[0] >> 2) & 7]);
    message = wrapped;
  }
  try {
    const scep::PkiRequest r = scep::parse_request(message, stack.authority().ra(), stack.authority().ra_key(),
                                                   policies[data[0] & 1]);
    if (!r.failure && (r.type == scep::MessageType::pkcs_req || r.type == scep::MessageType::renewal_req) && !r.csr) {
      __builtin_trap();  // a request to sign without a CSR must not parse as a good one
    }
  } catch (const scep::MalformedMessage&) {
  }
  return 0;
}
