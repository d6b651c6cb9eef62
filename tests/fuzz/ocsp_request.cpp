// OCSP requests (RFC 6960 §4.1) against the responder with a real CA: DER in, a signed
// response or an error response out, never an exception, and never internalError: that
// status is for the responder's own failures, not for what a client sent.
#include "ca/ocsp.hpp"
#include "support/ca_stack.hpp"

#include <openssl/ocsp.h>

using namespace portcullis;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& stack = fuzz::CaStack::get();
  static const ca::OcspResponder responder(stack.authority(), stack.index());
  const ca::Bytes response = responder.respond(std::span(data, size), ca::now_unix());
  const unsigned char* p = response.data();
  OCSP_RESPONSE* parsed = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response.size()));
  if (parsed == nullptr) __builtin_trap();  // every request gets an answer (RFC 6960 §2.3)
  const int status = OCSP_response_status(parsed);
  OCSP_RESPONSE_free(parsed);
  if (status == OCSP_RESPONSE_STATUS_INTERNALERROR) __builtin_trap();
  return 0;
}
