// One EAP-TLS conversation on the server state machine (RFC 3748, RFC 5216, RFC 9190),
// fed a sequence of EAP-Responses: the reassembly, the flags and the lengths of
// tls_fragments and the TLS engine's input side behind them. Input: one octet for
// Framed-MTU (0: absent, else 64 * octet), then the responses as support/split.hpp frames
// them; an empty first response starts the conversation with EAP-Request/Identity.
#include "radius/eap/authenticator.hpp"
#include "support/ca_stack.hpp"
#include "support/split.hpp"

using namespace portcullis::radius::eap;

namespace {

std::shared_ptr<const TlsServerConfig> server_config() {
  static const std::shared_ptr<const TlsServerConfig> tls = [] {
    auto& stack = portcullis::fuzz::CaStack::get();
    return TlsServerConfig::from_authority(stack.authority(), stack.index());
  }();
  return tls;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::optional<std::uint32_t> mtu;
  if (data[0] != 0) mtu = 64u * data[0];
  AuthenticatorConfig config;
  config.tls = server_config();
  // Small fragments and a small reassembly cap, so short inputs reach the limits.
  config.fragment_size = 200;
  config.max_tls_message = 16 * 1024;
  config.max_round_trips = 30;
  Authenticator a(config);
  for (const auto& response : portcullis::fuzz::split_messages(data + 1, size - 1)) {
    const AuthenticatorOutput out = a.step(AuthenticatorInput{response, mtu});
    if (out.decision != Decision::discard && out.eap_message.size() < 4) __builtin_trap();
    if (a.finished()) break;
    if (a.buffered_bytes() > config.max_tls_message + 64 * 1024) __builtin_trap();
  }
  return 0;
}
