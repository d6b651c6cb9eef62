// The fuzz targets' SCEP requester: a pkcsPKIEnvelope content (a CSR, an
// IssuerAndSerialNumber, ...) encrypted to the CA's RA and signed by a requester key made
// at startup (RFC 8894 §3.2), so that a seed holding only that content is a valid request
// to whatever CA the fuzzing process bootstrapped, and mutations reach the inner parsers
// instead of failing the outer signature or decryption.
#pragma once

#include "tests/fuzz/support/ca_stack.hpp"
#include "tests/unit/scep/scep_requester.hpp"

#include <functional>
#include <string>
#include <string_view>

namespace portcullis::fuzz {

// `message_type`: the messageType attribute ("19" PKCSReq, "17" RenewalReq, ...). The
// transactionID follows the content, so a different request is a new transaction.
inline ca::Bytes wrap_for_ra(std::span<const std::uint8_t> content, const std::string& message_type) {
  static ca::EvpPkeyPtr key = scep::testing::rsa_key(2048);
  static ca::X509Ptr cert = scep::testing::self_signed(key.get(), "fuzz-requester");
  scep::testing::RequestOptions o;
  o.message_type = message_type;
  o.transaction_id = "fuzz-" + std::to_string(std::hash<std::string_view>{}(
                                   std::string_view(reinterpret_cast<const char*>(content.data()), content.size())));
  return scep::testing::make_request(ca::Bytes(content.begin(), content.end()), cert.get(), key.get(),
                                     CaStack::get().authority().ra(), o);
}

}  // namespace portcullis::fuzz
