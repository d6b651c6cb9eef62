// The RFC 3748 EAP server state machine for ONE conversation, offering EAP-TLS only
// (RFC 5216 for TLS 1.2, RFC 9190 for TLS 1.3). No I/O: EAP bytes in, EAP bytes out.
//
// ---- How the RADIUS server uses it ------------------------------------------------------
// Once, at start-up (shared by all conversations and threads):
//
//   std::shared_ptr<const TlsServerConfig> tls = TlsServerConfig::from_authority(authority, index);
//
// Per conversation, keyed by the RADIUS State the server put in its Access-Challenge:
//
//   Access-Request without State  -> auto a = std::make_unique<Authenticator>(AuthenticatorConfig{tls, ...});
//   Access-Request with a State   -> look up the Authenticator stored under it (unknown State: reject)
//   AuthenticatorOutput out = a->step(AuthenticatorInput{joined_eap_message, framed_mtu});
//   switch (out.decision) {
//     case Decision::request:  Access-Challenge, EAP-Message = out.eap_message, a fresh State;
//                              store `a` under the new State.
//     case Decision::success:  Access-Accept, EAP-Message = out.eap_message (EAP-Success),
//                              MS-MPPE-Recv-Key = out.keys->msk[0..31], MS-MPPE-Send-Key =
//                              out.keys->msk[32..63] (RFC 2548, RFC 5216 §2.3); the
//                              device is out.peer->identity (never User-Name); drop `a`.
//     case Decision::failure:  Access-Reject, EAP-Message = out.eap_message (EAP-Failure);
//                              log/audit out.reason (and out.peer when set); drop `a`.
//     case Decision::discard:  send nothing and keep `a` as it was (RFC 3748 §4.1: a malformed
//                              packet or a Response with the wrong Identifier is silently
//                              discarded; the peer's retransmission will come).
//   }
//
// `joined_eap_message` is the concatenation of the Access-Request's EAP-Message attributes
// (empty when there are none: that starts a conversation with EAP-Request/Identity). The
// common first message is the EAP-Response/Identity the NAS forwards; it is accepted as is.
// An Authenticator is not thread-safe; the server runs one conversation's steps in order.
// -------------------------------------------------------------------------------------------
#pragma once

#include "radius/eap/eap_packet.hpp"
#include "radius/eap/failure_reason.hpp"
#include "radius/eap/log_sink.hpp"
#include "radius/eap/tls_engine.hpp"
#include "radius/eap/tls_fragments.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace portcullis::radius::eap {

struct AuthenticatorConfig {
  std::shared_ptr<const TlsServerConfig> tls;
  // TLS octets per EAP-TLS packet before Framed-MTU is taken into account (~1000-1400).
  std::size_t fragment_size = 1398;
  std::size_t max_tls_message = kDefaultMaxTlsMessage;  // reassembly cap for one peer message
  // Some NASes drop a conversation after 40-50 round trips; past this we fail ourselves.
  std::size_t max_round_trips = 60;
  LogSink log;
};

struct AuthenticatorInput {
  std::span<const std::uint8_t> eap_message;  // joined EAP-Message attributes; empty = start
  std::optional<std::uint32_t> framed_mtu;    // Framed-MTU of the Access-Request, if present
};

enum class Decision { request, success, failure, discard };
const char* to_string(Decision decision);

struct AuthenticatorOutput {
  Decision decision = Decision::discard;
  Bytes eap_message;        // the EAP packet to send (empty for discard)
  std::string reason;       // failure or discard: why, safe to log (no keys, no payload)
  std::string code;         // success "ok"; failure: the event vocabulary term (failure_reason.hpp)
  // What is known so far; complete on success, partial on failure.
  std::string eap_identity;         // the peer's outer EAP identity, informational only
  std::string tls_version;          // "TLSv1.2" / "TLSv1.3" once negotiated
  bool resumed = false;             // TLS session resumption
  std::optional<TlsPeer> peer;      // serial (hex), subject, ledger identity (device id/name)
  std::optional<KeyMaterial> keys;  // MSK/EMSK, success only
};

// Fragment size for the EAP-TLS data: min(configured, EAP MTU - EAP-TLS overhead), where
// the EAP MTU is Framed-MTU minus the 4-octet EAPOL header but never below the 1020 octets
// every EAP lower layer must carry (RFC 3748 §3.1), so a bogus Framed-MTU cannot push
// fragments below what the link is guaranteed to deliver.
std::size_t effective_fragment_size(std::size_t configured, std::optional<std::uint32_t> framed_mtu);

class Authenticator {
 public:
  enum class State {
    idle,       // nothing sent yet
    identity,   // sent EAP-Request/Identity
    tls_start,  // sent EAP-TLS Start (S flag)
    tls,        // TLS handshake in progress
    tls_final,  // sent our last TLS message (1.2 Finished / 1.3 commitment); wait for the empty response
    tls_alert,  // sent a fatal TLS alert; any response ends in Failure
    success,
    failure,
  };

  explicit Authenticator(AuthenticatorConfig config);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  AuthenticatorOutput step(const AuthenticatorInput& input);

  State state() const { return state_; }
  bool finished() const { return state_ == State::success || state_ == State::failure; }
  std::size_t requests_sent() const { return requests_sent_; }
  // What the handshake has learned so far, for a conversation that ends without a
  // decision (its abandoned event): null and "" until the certificate and the version are known.
  const TlsPeer* peer() const { return engine_ && engine_->peer() ? &*engine_->peer() : nullptr; }
  std::string tls_version() const { return engine_ ? engine_->version_name() : std::string(); }
  // Bytes held in the EAP-TLS fragment buffers (see TlsFragments::buffered_bytes).
  std::size_t buffered_bytes() const { return fragments_ ? fragments_->buffered_bytes() : 0; }

 private:
  AuthenticatorOutput start(std::span<const std::uint8_t> eap_message);
  AuthenticatorOutput on_identity(const Packet& response);
  AuthenticatorOutput on_nak(const Packet& response);
  AuthenticatorOutput on_tls(const Packet& response);
  AuthenticatorOutput after_tls_input(Bytes message);
  AuthenticatorOutput send_tls_start();
  AuthenticatorOutput send_tls_message(Bytes tls_message);
  AuthenticatorOutput send_request(Type type, std::span<const std::uint8_t> type_data);
  AuthenticatorOutput succeed();
  AuthenticatorOutput fail(std::string reason, std::string code = {});  // code "": eap_protocol
  AuthenticatorOutput discard(std::string reason);
  AuthenticatorOutput with_facts(AuthenticatorOutput out) const;
  void set_state(State next);
  void log(const std::string& line) const;

  AuthenticatorConfig config_;
  State state_ = State::idle;
  std::uint8_t last_request_id_ = 0;
  std::uint8_t last_response_id_ = 0;
  std::size_t requests_sent_ = 0;
  int naks_ = 0;
  std::optional<std::uint32_t> framed_mtu_;
  std::string eap_identity_;
  std::string failure_reason_;
  std::unique_ptr<TlsFragments> fragments_;
  std::unique_ptr<TlsEngine> engine_;
};

const char* to_string(Authenticator::State state);

}  // namespace portcullis::radius::eap
