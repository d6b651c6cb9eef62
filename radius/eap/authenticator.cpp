#include "radius/eap/authenticator.hpp"

#include "ca/log_text.hpp"
#include "radius/eap/failure_reason.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace portcullis::radius::eap {
namespace {

constexpr std::size_t kMinEapMtu = 1020;       // RFC 3748 §3.1
constexpr std::size_t kEapolHeader = 4;        // Framed-MTU counts the EAPOL header too
constexpr std::size_t kMaxLoggedIdentity = 128;

std::string type_list(std::span<const std::uint8_t> types) {
  std::string out;
  for (std::uint8_t t : types) out += (out.empty() ? "" : ",") + std::to_string(t);
  return out.empty() ? "none" : out;
}

// "PEAP (25), TTLS (21)": what a Nak asks for, in words.
std::string method_names(std::span<const std::uint8_t> types) {
  std::string out;
  for (std::uint8_t t : types) {
    if (t != 0) out += (out.empty() ? "" : ", ") + reason::eap_method_name(t) + " (" + std::to_string(t) + ")";
  }
  return out;
}

}  // namespace

std::size_t effective_fragment_size(std::size_t configured, std::optional<std::uint32_t> framed_mtu) {
  if (!framed_mtu) return configured;
  const std::size_t link = *framed_mtu > kEapolHeader ? *framed_mtu - kEapolHeader : 0;
  const std::size_t eap_mtu = std::max(link, kMinEapMtu);
  return std::min(configured, eap_mtu - kEapTlsOverhead);
}

Authenticator::Authenticator(AuthenticatorConfig config) : config_(std::move(config)) {
  if (!config_.tls) throw std::invalid_argument("EAP: no TLS server configuration");
  if (config_.fragment_size == 0) throw std::invalid_argument("EAP: fragment size must be positive");
  // RFC 3748 §4.1: the Identifier only has to differ between consecutive Requests; a
  // random start keeps stale Responses of another conversation from matching by chance.
  if (RAND_bytes(&last_request_id_, 1) != 1) throw std::runtime_error("EAP: RAND_bytes failed");
}

Authenticator::~Authenticator() = default;

void Authenticator::log(const std::string& line) const {
  if (config_.log) config_.log(line);
}

void Authenticator::set_state(State next) {
  if (next == state_) return;
  log(std::string("EAP: ") + to_string(state_) + " -> " + to_string(next));
  state_ = next;
}

AuthenticatorOutput Authenticator::step(const AuthenticatorInput& input) {
  if (input.framed_mtu && !framed_mtu_) framed_mtu_ = input.framed_mtu;
  if (finished()) return discard("conversation already finished");
  if (state_ == State::idle) return start(input.eap_message);
  if (input.eap_message.empty()) return discard("no EAP-Message");

  ParseResult parsed = parse_packet(input.eap_message);
  if (!parsed.packet) return discard(parsed.error);
  const Packet& p = *parsed.packet;
  // RFC 3748 §4.1: only Responses go peer -> authenticator; a Response whose Identifier
  // does not match the outstanding Request is silently discarded.
  if (p.code != Code::response) return discard(std::string("unexpected EAP ") + to_string(p.code) + " from the peer");
  if (p.identifier != last_request_id_) {
    return discard("EAP Identifier " + std::to_string(p.identifier) + " does not match the outstanding Request " +
                   std::to_string(last_request_id_));
  }
  last_response_id_ = p.identifier;

  switch (state_) {
    case State::identity:
      if (p.type == static_cast<std::uint8_t>(Type::identity)) return on_identity(p);
      return fail("expected EAP-Response/Identity, got Type " + std::to_string(p.type));
    case State::tls_start:
      if (p.type == static_cast<std::uint8_t>(Type::nak)) return on_nak(p);
      [[fallthrough]];
    case State::tls:
    case State::tls_final:
    case State::tls_alert:
      if (p.type == static_cast<std::uint8_t>(Type::tls)) return on_tls(p);
      // RFC 3748 §5.3: a Nak is only valid in reply to the first Request of a method.
      return fail("peer answered EAP-TLS with EAP Type " + std::to_string(p.type));
    default:
      return fail("invalid EAP state");
  }
}

// The NAS either forwards the peer's EAP-Response/Identity (the usual case: the peer
// answered the NAS's own Identity request) or sends no EAP-Message at all (EAP-Start,
// RFC 3579 §2.1), in which case we ask for the identity ourselves.
AuthenticatorOutput Authenticator::start(std::span<const std::uint8_t> eap_message) {
  if (eap_message.empty()) {
    set_state(State::identity);
    return send_request(Type::identity, {});
  }
  ParseResult parsed = parse_packet(eap_message);
  if (!parsed.packet) {
    last_response_id_ = eap_message.size() >= 2 ? eap_message[1] : 0;
    return fail("malformed first EAP packet: " + parsed.error);
  }
  const Packet& p = *parsed.packet;
  last_response_id_ = p.identifier;
  if (p.code != Code::response || p.type != static_cast<std::uint8_t>(Type::identity)) {
    return fail("conversation must start with EAP-Response/Identity");
  }
  // Our first Request follows the NAS's Identity Request: continue its numbering.
  last_request_id_ = p.identifier;
  return on_identity(p);
}

AuthenticatorOutput Authenticator::on_identity(const Packet& response) {
  // RFC 3748 §5.1: the outer identity is often anonymous and is not used to decide
  // anything (the certificate decides); it is peer text headed for logs.
  const std::span<const std::uint8_t> identity(response.type_data);
  eap_identity_ = ca::log_safe(identity.first(std::min(identity.size(), kMaxLoggedIdentity)));
  log("EAP: identity '" + eap_identity_ + "'");
  return send_tls_start();
}

// RFC 3748 §5.3.1 legacy Nak: the peer lists the methods it wants (0 = none). We only
// offer EAP-TLS: propose it once more, then give up.
AuthenticatorOutput Authenticator::on_nak(const Packet& response) {
  const std::span<const std::uint8_t> wanted(response.type_data);
  log("EAP: Nak, peer proposes " + type_list(wanted));
  const bool no_alternative = wanted.empty() || std::all_of(wanted.begin(), wanted.end(), [](auto t) { return t == 0; });
  if (no_alternative) {
    // wpa_supplicant, for one, does this when it has no client certificate and key.
    return fail("the peer Nak'd EAP-TLS and proposes no other method (no client certificate installed?)",
                reason::kEapMethod);
  }
  if (++naks_ > 1) {
    return fail("the peer wants " + method_names(wanted) + ", not EAP-TLS (Nak'd twice)", reason::kEapMethod);
  }
  return send_tls_start();
}

AuthenticatorOutput Authenticator::send_tls_start() {
  const std::size_t fragment = effective_fragment_size(config_.fragment_size, framed_mtu_);
  fragments_ = std::make_unique<TlsFragments>(fragment, config_.max_tls_message, config_.log);
  engine_ = std::make_unique<TlsEngine>(config_.tls, config_.log);
  set_state(State::tls_start);
  const Bytes start = tls_start_frame();  // RFC 5216 §2.1.1: S flag, no data
  return send_request(Type::tls, start);
}

AuthenticatorOutput Authenticator::on_tls(const Packet& response) {
  TlsFragments::Event ev = fragments_->on_response(response.type_data);
  switch (ev.kind) {
    case TlsFragments::Event::Kind::error:
      return fail(ev.error);
    case TlsFragments::Event::Kind::send:  // our fragment ACK, or our next fragment
      return send_request(Type::tls, ev.bytes);
    case TlsFragments::Event::Kind::peer_ack:
      if (state_ == State::tls_final) return succeed();
      if (state_ == State::tls_alert) return fail(engine_->failure_reason(), engine_->failure_code());
      return fail(state_ == State::tls_start ? "empty response to EAP-TLS Start" : "empty response mid-handshake");
    case TlsFragments::Event::Kind::message:
      return after_tls_input(std::move(ev.bytes));
  }
  return fail("invalid fragmentation event");
}

AuthenticatorOutput Authenticator::after_tls_input(Bytes message) {
  if (state_ == State::tls_alert) return fail(engine_->failure_reason(), engine_->failure_code());
  if (state_ == State::tls_start) set_state(State::tls);

  const TlsStatus status = engine_->feed(message);
  if (status == TlsStatus::failed) {
    // RFC 5216 §2.1.3 / RFC 9190 §2.1.3: deliver OpenSSL's fatal alert first when there
    // is one (the peer then learns why), EAP-Failure after the peer's answer.
    Bytes alert = engine_->take_output();
    if (alert.empty() || state_ == State::tls_final) return fail(engine_->failure_reason(), engine_->failure_code());
    set_state(State::tls_alert);
    return send_tls_message(std::move(alert));
  }
  if (state_ == State::tls_final) {
    // The peer owed us an empty response (RFC 5216 §2.1.1, RFC 9190 §2.1.1), not records.
    return fail("peer sent TLS data instead of the final empty response");
  }
  if (status == TlsStatus::need_more) {
    Bytes flight = engine_->take_output();
    if (flight.empty()) return fail("TLS handshake stalled: peer message produced no answer");
    return send_tls_message(std::move(flight));
  }

  // Handshake done and the peer authorized (chain + ledger verdict, resumed or not).
  if (engine_->version() == TLS1_3_VERSION) {
    // RFC 9190 §2.5: after NewSessionTicket (already written), the 0x00 application-data
    // commitment; the peer's empty response to it leads to Success.
    engine_->write_commitment();
    if (engine_->status() == TlsStatus::failed) return fail(engine_->failure_reason(), engine_->failure_code());
  }
  Bytes last = engine_->take_output();
  if (last.empty()) {
    // TLS 1.2 resumption (RFC 5216 §2.1.2): the peer's Finished came last; nothing owed.
    return succeed();
  }
  set_state(State::tls_final);
  return send_tls_message(std::move(last));
}

AuthenticatorOutput Authenticator::send_tls_message(Bytes tls_message) {
  const Bytes first = fragments_->send(std::move(tls_message));
  return send_request(Type::tls, first);
}

AuthenticatorOutput Authenticator::send_request(Type type, std::span<const std::uint8_t> type_data) {
  if (requests_sent_ >= config_.max_round_trips) {
    return fail("round-trip limit of " + std::to_string(config_.max_round_trips) + " reached");
  }
  // RFC 3748 §4.1: a new Identifier for each new Request.
  ++last_request_id_;
  ++requests_sent_;
  AuthenticatorOutput out;
  out.decision = Decision::request;
  out.eap_message = build_request(last_request_id_, type, type_data);
  return with_facts(std::move(out));
}

AuthenticatorOutput Authenticator::succeed() {
  AuthenticatorOutput out;
  out.decision = Decision::success;
  out.keys = engine_->export_keys();
  // RFC 3748 §4.2: Success carries the Identifier of the Response it answers.
  out.eap_message = build_success(last_response_id_);
  out.code = reason::kOk;
  set_state(State::success);
  log("EAP: Success, " + engine_->version_name() + (engine_->resumed() ? " resumed" : " full") + ", serial " +
      (engine_->peer() ? engine_->peer()->serial_hex : std::string("?")));
  fragments_.reset();
  return with_facts(std::move(out));
}

AuthenticatorOutput Authenticator::fail(std::string reason, std::string code) {
  AuthenticatorOutput out;
  out.decision = Decision::failure;
  out.reason = reason.empty() ? "authentication failed" : std::move(reason);
  out.code = code.empty() ? reason::kEapProtocol : std::move(code);
  out.eap_message = build_failure(last_response_id_);  // RFC 3748 §4.2
  set_state(State::failure);
  log("EAP: Failure: " + out.reason);
  fragments_.reset();
  return with_facts(std::move(out));
}

AuthenticatorOutput Authenticator::discard(std::string reason) {
  log("EAP: discarded: " + reason);
  AuthenticatorOutput out;
  out.decision = Decision::discard;
  out.reason = std::move(reason);
  return with_facts(std::move(out));
}

AuthenticatorOutput Authenticator::with_facts(AuthenticatorOutput out) const {
  out.eap_identity = eap_identity_;
  if (engine_) {
    out.tls_version = engine_->version_name();
    out.resumed = engine_->resumed();
    out.peer = engine_->peer();
  }
  return out;
}

const char* to_string(Decision decision) {
  switch (decision) {
    case Decision::request: return "request";
    case Decision::success: return "success";
    case Decision::failure: return "failure";
    case Decision::discard: return "discard";
  }
  return "?";
}

const char* to_string(Authenticator::State state) {
  switch (state) {
    case Authenticator::State::idle: return "IDLE";
    case Authenticator::State::identity: return "IDENTITY";
    case Authenticator::State::tls_start: return "TLS_START";
    case Authenticator::State::tls: return "TLS";
    case Authenticator::State::tls_final: return "TLS_FINAL";
    case Authenticator::State::tls_alert: return "TLS_ALERT";
    case Authenticator::State::success: return "SUCCESS";
    case Authenticator::State::failure: return "FAILURE";
  }
  return "?";
}

}  // namespace portcullis::radius::eap
