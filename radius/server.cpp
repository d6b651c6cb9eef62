#include "radius/server.hpp"

#include "radius/accounting.hpp"
#include "radius/attribute_values.hpp"
#include "radius/eap/authenticator.hpp"
#include "radius/mppe.hpp"

#include "ca/log_text.hpp"
#include "policy/conditions.hpp"
#include "radius/eap/failure_reason.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace portcullis::radius {

// What one Access-Request is about, carried through the steps of its handling.
struct Server::Context {
  const Packet& request;
  const NasClient& nas;
  std::string calling_station;  // "-" when absent
  Bytes eap;                    // joined EAP-Message (RFC 3579 §3.1)
  SteadyClock::time_point started;
  std::shared_ptr<Conversation> conversation;
  IpAddress source;             // where the NAS sends from: where its RFC 5176 server listens
};

namespace {

std::string text_attribute(const Packet& p, std::uint8_t type, const char* fallback) {
  const Attribute* a = p.find(type);
  if (a == nullptr || a->value.empty()) return fallback;
  // Printable ASCII only into the log line: a NAS-supplied value must not forge log lines.
  return ca::log_safe(std::string_view(reinterpret_cast<const char*>(a->value.data()), a->value.size()));
}

long ms_since(SteadyClock::time_point since, SteadyClock::time_point now) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count());
}

// The sentence of a malformed datagram's drop event (a literal: DropEvents keeps it by pointer).
const char* malformed_detail(ParseError error) {
  switch (error) {
    case ParseError::Truncated: return "malformed datagram: truncated";
    case ParseError::BadLength: return "malformed datagram: bad length";
    case ParseError::BadAttribute: return "malformed datagram: bad attribute";
  }
  return "malformed datagram";
}

// RFC 3748 §4.2: Code 4 (Failure), the Identifier of the Response it answers, Length 4.
Bytes eap_failure_for(const Bytes& eap_response) {
  const std::uint8_t id = eap_response.size() >= 2 ? eap_response[1] : 0;
  return Bytes{4, id, 0, 4};
}

}  // namespace

// A conversation's one outcome: marks it ended (so it does not also end as abandoned) and,
// when a sink is attached, builds its event (`fill` sets outcome, reason, detail, rule) and
// hands it over. Nothing is built without a sink.
template <class Fill>
void Server::emit_outcome(Context& ctx, const eap::TlsPeer* peer, std::string_view tls_version, Fill&& fill) {
  if (ctx.conversation) ctx.conversation->ended = true;
  if (options_.events == nullptr) return;
  ca::Event event = conversation_event(facts_of(ctx.request, ctx.nas.name, ctx.source), peer, tls_version);
  fill(event);
  event.at = now();
  event.duration_ms = ms_since(ctx.started, steady_now());
  options_.events->emit(std::move(event));
}

Server::Server(const NasTable& nas, std::shared_ptr<const eap::TlsServerConfig> tls, ca::Ledger& ledger,
               ServerOptions options)
    // Not owned: the aliasing constructor gives a snapshot that deletes nothing.
    : Server(std::shared_ptr<const NasTable>(std::shared_ptr<const NasTable>(), &nas), std::move(tls), ledger,
             std::move(options)) {}

Server::Server(std::shared_ptr<const NasTable> nas, std::shared_ptr<const eap::TlsServerConfig> tls,
               ca::Ledger& ledger, ServerOptions options)
    : nas_(std::move(nas)),
      tls_(std::move(tls)),
      ledger_(ledger),
      options_(std::move(options)),
      duplicates_(options_.duplicate_lifetime, options_.duplicate_capacity),
      drop_events_(options_.events),
      eap_sessions_(EapSessionLimits{options_.eap_idle_timeout, options_.max_eap_sessions,
                                     options_.max_eap_sessions_per_nas, options_.eap_memory_budget}),
      live_(options_.live_sessions),
      writer_(ledger_, counters_, options_.ledger_queue),
      accounting_(std::make_unique<Accounting>(writer_, accepts_, live_, counters_, [this] { return now(); },
                                               options_.retention)) {}

Server::~Server() {
  // Conversations cut short by the shutdown were not abandoned by their peers.
  eap_sessions_.clear([](Conversation& c) { c.ended = true; });
}

void Server::sweep() {
  const auto now = steady_now();
  eap_sessions_.expire(now);
  drop_events_.sweep(now);
}

void Server::drop_event(const Datagram& datagram, std::string_view nas, DropReason reason, const char* detail) {
  drop_events_.record(datagram.source, nas, reason, detail, steady_now());
}

ca::UnixTime Server::now() const {
  return options_.clock ? options_.clock() : ca::now_unix();
}

SteadyClock::time_point Server::steady_now() const {
  return options_.steady_clock ? options_.steady_clock() : SteadyClock::now();
}

void Server::reconfigure(std::shared_ptr<const NasTable> nas, const std::function<void()>& also) {
  std::unique_lock lock(config_mutex_);
  nas_.store(std::move(nas));
  if (also) also();
}

std::optional<Bytes> Server::handle(const Datagram& datagram) {
  bump(counters_.received);
  // This request keeps the snapshot it found its NAS in, and the rules, until it is decided.
  const std::shared_lock config(config_mutex_);
  const std::shared_ptr<const NasTable> table = nas_.load();
  const NasClient* nas = table->find(datagram.source);
  if (nas == nullptr) {
    // RFC 2865 §3: a request from an unknown client is silently discarded.
    bump(counters_.unknown_nas);
    drop_event(datagram, "", DropReason::unknown_client, "datagram from an address that is no NAS client (RFC 2865 §3)");
    // Anyone can send these: no text is made for a log line that is not written.
    if (spdlog::should_log(spdlog::level::debug))
      spdlog::debug("radius: drop datagram from unknown NAS {}:{}", datagram.source.to_string(), datagram.source_port);
    return std::nullopt;
  }
  return handle_known(datagram, *nas);
}

std::optional<Bytes> Server::handle(const Datagram& datagram, const NasClient& nas) {
  bump(counters_.received);
  // As for UDP: a reload waits for this request, which is decided by the rules it began with.
  const std::shared_lock config(config_mutex_);
  return handle_known(datagram, nas);
}

std::optional<Bytes> Server::handle_known(const Datagram& datagram, const NasClient& client) {
  const NasClient* nas = &client;
  NasActivity* activity = nas->activity.get();
  if (activity != nullptr) activity->count(activity->requests);
  auto parsed = parse(datagram.bytes, nas->profile);
  if (!parsed) {
    if (activity != nullptr) activity->count(activity->dropped);
    switch (parsed.error()) {
      case ParseError::Truncated: bump(counters_.malformed_truncated); break;
      case ParseError::BadLength: bump(counters_.malformed_bad_length); break;
      case ParseError::BadAttribute: bump(counters_.malformed_bad_attribute); break;
    }
    drop_event(datagram, nas->name, DropReason::malformed, malformed_detail(parsed.error()));
    spdlog::debug("radius: drop malformed datagram from NAS {}: {}", nas->name, to_string(parsed.error()));
    return std::nullopt;
  }
  const Packet& request = parsed.value();
  try {
    if (!authentic(datagram, *nas, request)) {
      if (activity != nullptr) activity->count(activity->dropped);
      return std::nullopt;
    }
    if (activity != nullptr) activity->last_seen.store(now(), std::memory_order_relaxed);

    const RequestKey key{datagram.source, datagram.source_port, request.identifier,
                         static_cast<std::uint8_t>(datagram.socket), request.authenticator};
    auto seen = duplicates_.begin(key, steady_now());
    if (seen.status == DuplicateCache::Status::in_progress) {
      bump(counters_.duplicate_in_progress);
      return std::nullopt;
    }
    if (seen.status == DuplicateCache::Status::answered) {
      bump(counters_.duplicate_resent);
      if (seen.reply.empty()) return std::nullopt;
      return seen.reply;
    }
    std::optional<Bytes> reply;
    try {
      reply = dispatch(datagram, *nas, request);
    } catch (...) {
      duplicates_.forget(key);
      throw;
    }
    // A request we chose not to answer is forgotten, so its retransmission is processed
    // again (e.g. accounting that could not be stored, RFC 2866 §2).
    if (reply) duplicates_.complete(key, *reply, steady_now());
    else duplicates_.forget(key);
    return reply;
  } catch (const std::exception& e) {
    bump(counters_.internal_error);
    spdlog::error("radius: request {} from NAS {} failed: {}", request.identifier, nas->name, e.what());
    return std::nullopt;
  }
}

bool Server::authentic(const Datagram& datagram, const NasClient& nas, const Packet& request) {
  // RFC 9765 §4.1, §5.2: over RADIUS/1.1 TLS alone authenticates the packet; there is no
  // MD5 authenticator and no Message-Authenticator to check (parse() dropped any).
  if (nas.profile == Profile::radius_1_1) return true;
  const ByteView bytes = packet_bytes(datagram.bytes);
  switch (request.code) {
    case Code::AccessRequest:
    case Code::StatusServer: {
      const auto status = check_message_authenticator(bytes, nas.secret);
      if (status == MessageAuthenticatorStatus::Invalid) {
        bump(counters_.invalid_message_authenticator);
        drop_event(datagram, nas.name, DropReason::bad_message_authenticator,
                   "Message-Authenticator does not verify: wrong shared secret? (RFC 3579 §3.2)");
        spdlog::debug("radius: drop request {} from NAS {}: invalid Message-Authenticator", request.identifier,
                      nas.name);
        return false;
      }
      // RFC 5997 §3: Status-Server without it is discarded. RFC 3579 §3.2: so is an
      // Access-Request with EAP-Message. BlastRADIUS (CVE-2024-3596): by default, any
      // Access-Request.
      const bool required = request.code == Code::StatusServer || nas.require_message_authenticator ||
                             request.find(attr::EapMessage) != nullptr;
      if (status == MessageAuthenticatorStatus::Absent && required) {
        bump(counters_.missing_message_authenticator);
        drop_event(datagram, nas.name, DropReason::missing_message_authenticator,
                   "no Message-Authenticator where it is required (RFC 3579 §3.2, BlastRADIUS)");
        spdlog::debug("radius: drop request {} from NAS {}: Message-Authenticator missing", request.identifier,
                      nas.name);
        return false;
      }
      return true;
    }
    case Code::AccountingRequest: {
      // RFC 2866 §3: the Request Authenticator is an MD5 over the packet and the secret.
      if (!verify_request_authenticator(bytes, nas.secret) ||
          check_message_authenticator(bytes, nas.secret) == MessageAuthenticatorStatus::Invalid) {
        bump(counters_.acct_bad_authenticator);
        drop_event(datagram, nas.name, DropReason::bad_accounting_authenticator,
                   "accounting Request Authenticator does not verify: wrong shared secret? (RFC 2866 §3)");
        spdlog::debug("radius: drop accounting request {} from NAS {}: bad authenticator", request.identifier,
                      nas.name);
        return false;
      }
      return true;
    }
    default:
      return true;  // dispatch() drops the code
  }
}

std::optional<Bytes> Server::dispatch(const Datagram& datagram, const NasClient& nas, const Packet& request) {
  const bool auth = datagram.socket == SocketKind::auth;
  if (request.code == Code::StatusServer) return status_server(request, nas, datagram.socket);
  if (auth && request.code == Code::AccessRequest) return access_request(request, nas, datagram.source);
  if (!auth && request.code == Code::AccountingRequest) {
    if (nas.activity) nas.activity->count(nas.activity->accounting);
    auto response = accounting_->handle(request, nas, datagram.source);
    if (!response) return std::nullopt;
    bump(counters_.acct_response);
    return encode(*response, request, nas);
  }
  bump(counters_.unexpected_code);
  spdlog::debug("radius: drop code {} from NAS {} on the {} socket", static_cast<int>(request.code), nas.name,
                auth ? "auth" : "acct");
  return std::nullopt;
}

// RFC 5997 §3/§4: Access-Accept on the authentication port, Accounting-Response on the
// accounting port; nothing else is done.
std::optional<Bytes> Server::status_server(const Packet& request, const NasClient& nas, SocketKind socket) {
  bump(counters_.status_server);
  Packet reply;
  reply.code = socket == SocketKind::auth ? Code::AccessAccept : Code::AccountingResponse;
  reply.identifier = request.identifier;
  copy_proxy_state(request, reply);
  return encode(reply, request, nas);
}

std::optional<Bytes> Server::encode(const Packet& reply, const Packet& request, const NasClient& nas) {
  // Message-Authenticator first in every reply (BlastRADIUS; RFC 3579 §3.2, RFC 5997 §3;
  // for accounting see ReplyMac::zero_authenticator).
  const ReplyMac mac =
      request.code == Code::AccountingRequest ? ReplyMac::zero_authenticator : ReplyMac::request_authenticator;
  const bool with_mac = request.code != Code::AccountingRequest || nas.sign_accounting_responses;
  auto bytes = encode_reply(reply, request.authenticator, nas.secret, with_mac, mac, nas.profile);
  if (!bytes) {
    bump(counters_.reply_too_large);
    spdlog::warn("radius: reply to request {} from NAS {} would exceed 4096 octets; dropped", request.identifier,
                 nas.name);
    return std::nullopt;
  }
  return std::move(bytes.value());
}

std::optional<Bytes> Server::access_request(const Packet& request, const NasClient& nas, const IpAddress& source) {
  Context ctx{request, nas, text_attribute(request, attr::CallingStationId, "-"), {}, steady_now(), nullptr, source};
  JoinedEap joined = join_eap_message(request);
  if (joined.status == JoinedEap::Status::NotConsecutive) {
    bump(counters_.eap_not_consecutive);
    spdlog::debug("radius: drop request {} from NAS {}: EAP-Message attributes not consecutive",
                  request.identifier, nas.name);
    return std::nullopt;
  }
  if (joined.status == JoinedEap::Status::Absent) {
    bump(counters_.not_eap);
    return reject(ctx, eap::reason::kEapMethod, "not an EAP request (PAP, CHAP…): only EAP-TLS is offered", {});
  }
  ctx.eap = std::move(joined.eap);
  return start_or_continue(ctx);
}

std::optional<Bytes> Server::start_or_continue(Context& ctx) {
  const Attribute* state_attr = ctx.request.find(attr::State);
  std::string old_state;
  if (state_attr != nullptr) {
    old_state.assign(state_attr->value.begin(), state_attr->value.end());
    ctx.conversation = eap_sessions_.find(old_state, steady_now());
    if (!ctx.conversation) {
      // RFC 2865 §5.24 leaves State to the server; one we did not issue (or that expired)
      // cannot continue any conversation.
      bump(counters_.unknown_state);
      return reject(ctx, eap::reason::kEapProtocol, "unknown or expired State", eap_failure_for(ctx.eap));
    }
  } else {
    ctx.conversation = std::make_shared<Conversation>();
    eap::AuthenticatorConfig config;
    config.tls = tls_;
    config.fragment_size = options_.fragment_size;
    config.log = [](std::string_view line) { spdlog::debug("radius: {}", line); };
    ctx.conversation->authenticator = std::make_unique<eap::Authenticator>(std::move(config));
    ctx.conversation->started = ctx.started;
    if (options_.events != nullptr) {
      ctx.conversation->events = options_.events;
      ctx.conversation->facts = StoredFacts(facts_of(ctx.request, ctx.nas.name, ctx.source));
    }
  }

  Conversation& conv = *ctx.conversation;
  std::lock_guard lock(conv.mutex);
  ctx.started = conv.started;
  if (!old_state.empty() && conv.state != old_state) {
    // Another thread advanced this conversation with a request carrying the same State
    // (a NAS retransmitting with a new Identifier): this one is stale.
    bump(counters_.eap_discard);
    return std::nullopt;
  }
  eap::AuthenticatorOutput out = conv.authenticator->step({ctx.eap, ctx.request.integer(attr::FramedMtu)});
  conv.last_step = steady_now();  // the end of an abandoned conversation
  switch (out.decision) {
    case eap::Decision::request:
      return challenge(ctx, old_state, std::move(out.eap_message));
    case eap::Decision::success:
      conv.ended = true;  // accept() emits its event (accept or reject)
      if (!old_state.empty()) eap_sessions_.erase(old_state);
      return accept(ctx, out);
    case eap::Decision::failure: {
      conv.ended = true;  // reject() emits its event; erasing may destroy the conversation
      if (!old_state.empty()) eap_sessions_.erase(old_state);
      return reject(ctx, out.code, out.reason, std::move(out.eap_message), out.peer ? &*out.peer : nullptr,
                    out.tls_version);
    }
    case eap::Decision::discard:
      if (old_state.empty()) conv.ended = true;  // never stored: nothing was begun
      // RFC 3748 §4.1: keep the conversation as it was; the peer's retransmission comes.
      bump(counters_.eap_discard);
      spdlog::debug("radius: EAP discard from NAS {} calling_station={}: {}", ctx.nas.name, ctx.calling_station,
                    out.reason);
      return std::nullopt;
  }
  return std::nullopt;
}

// RFC 2865 §4.4 / RFC 3579 §2.1: Access-Challenge with the next EAP-Request and a fresh
// State (RAND_bytes; RFC 2865 §5.24) that the NAS echoes.
std::optional<Bytes> Server::challenge(Context& ctx, const std::string& old_state, Bytes eap) {
  const std::string state = new_state();
  const std::size_t buffered = ctx.conversation->authenticator->buffered_bytes();
  if (old_state.empty()) {
    const auto insertion = eap_sessions_.insert(state, ctx.conversation, ctx.nas.name, buffered, steady_now());
    bump(counters_.sessions_evicted, insertion.evicted_capacity);
    bump(counters_.eap_evicted_nas_cap, insertion.evicted_nas_cap);
    bump(counters_.eap_evicted_budget, insertion.evicted_budget);
    if (insertion.admission != EapSessions::Admission::admitted) return refuse(ctx, insertion.admission);
  } else {
    std::size_t evicted = 0;
    const auto rekeyed = eap_sessions_.rekey(old_state, state, ctx.conversation, buffered, steady_now(), &evicted);
    bump(counters_.eap_evicted_budget, evicted);
    if (rekeyed == EapSessions::Rekeyed::over_budget) return refuse(ctx, EapSessions::Admission::refused_budget);
  }
  ctx.conversation->state = state;

  Packet reply;
  reply.code = Code::AccessChallenge;
  reply.identifier = ctx.request.identifier;
  add_eap_message(reply, eap);  // split into <= 253-octet attributes (RFC 3579 §3.1)
  reply.add(attr::State, state);
  copy_proxy_state(ctx.request, reply);
  auto bytes = encode(reply, ctx.request, ctx.nas);
  if (!bytes) {
    // The NAS gets nothing, so nobody holds the new State: the conversation (already
    // re-keyed to it) would sit in the table until its idle timeout. Its retransmission
    // carries the old State, which is gone, and ends in an Access-Reject.
    eap_sessions_.erase(state);
    return bytes;
  }
  bump(counters_.access_challenge);
  return bytes;
}

std::optional<Bytes> Server::accept(Context& ctx, const eap::AuthenticatorOutput& out) {
  if (!out.keys || !out.peer) {
    bump(counters_.internal_error);
    return reject(ctx, eap::reason::kInternalError, "EAP success without keys or peer", eap_failure_for(ctx.eap));
  }
  const std::string& serial = out.peer->serial_hex;
  const std::string device = out.peer->identity.device_name.empty() ? "-" : out.peer->identity.device_name;

  // The handshake proved the certificate and the ledger said "good"; now the rules decide
  // what (if anything) this device gets on this NAS.
  auto decision = std::make_shared<const policy::Decision>(decide(ctx, *out.peer));
  if (!decision->accept) {
    bump(counters_.policy_reject);
    // RFC 3579 §2.6.3: EAP-Failure in the Access-Reject, although the TLS layer succeeded.
    return reject(ctx, "policy:" + decision->rule, "policy: " + decision->reason, eap_failure_for(ctx.eap),
                  &*out.peer, out.tls_version, decision->rule);
  }

  Packet reply;
  reply.code = Code::AccessAccept;
  reply.identifier = ctx.request.identifier;
  add_eap_message(reply, out.eap_message);
  // RFC 2548 §2.4.2/§2.4.3, RFC 5216 §2.3: MS-MPPE-Recv-Key = MSK[0..31], Send-Key = MSK[32..63].
  const ByteView msk(out.keys->msk);
  add_mppe_keys(reply, msk.subspan(0, 32), msk.subspan(32, 32), ctx.nas.secret, ctx.request.authenticator,
                ctx.nas.profile);
  // RFC 2865 §5.25: the NAS echoes Class in its accounting, tying the session to this
  // certificate; the token is opaque and means something only to us.
  // RFC 2865 §5.27: the rule's timeout, capped by the server's maximum and by the
  // certificate's notAfter: the session ends no later than the certificate does.
  const ca::UnixTime accepted_at = now();
  const std::uint32_t session_timeout = policy::capped_session_timeout(
      decision->session_timeout, options_.max_session_timeout, out.peer->identity.not_after, accepted_at);
  AcceptRecord record;
  record.serial = serial;
  record.device = out.peer->identity.device_name;
  record.nas = ctx.nas.name;
  record.calling_station_id = ctx.calling_station == "-" ? "" : ctx.calling_station;
  record.user_name = text_attribute(ctx.request, attr::UserName, "");
  record.rule = decision->rule;
  record.coa_on_disable = decision->on_disable == policy::SessionAction::coa;
  for (const auto& a : decision->coa_reply) record.coa_reply.push_back(Attribute{a.type, a.value});
  record.accepted_at = accepted_at;
  record.nas_identity = nas_identity_of(ctx.request, ctx.source);  // for a Disconnect-Request (RFC 5176 §3)
  record.ends_at = accepted_at + session_timeout;
  const std::string token = accepts_.remember(std::move(record));
  reply.add(attr::Class, token);
  reply.add_integer(attr::SessionTimeout, session_timeout);
  // The rule's reply attributes (resolved and size-checked when the rules were loaded).
  for (const auto& a : decision->reply) reply.attributes.push_back(Attribute{a.type, a.value});
  copy_proxy_state(ctx.request, reply);
  auto bytes = encode(reply, ctx.request, ctx.nas);
  if (!bytes) {
    return reject(ctx, eap::reason::kInternalError, "Access-Accept too large", eap_failure_for(ctx.eap), &*out.peer,
                  out.tls_version);
  }
  bump(counters_.access_accept);
  emit_outcome(ctx, &*out.peer, out.tls_version, [&](ca::Event& event) {
    event.outcome = "accept";
    event.reason = eap::reason::kOk;
    event.rule = decision->rule;
    event.detail = std::string("EAP-TLS ") + (out.resumed ? "resumed" : "full handshake") + ", rule " +
                   decision->rule + ", Session-Timeout " + std::to_string(session_timeout) + " s";
  });
  tell(ctx, DecisionOutcome::accept, eap::reason::kOk, true);
  spdlog::info("radius: accept nas={} calling_station={} device={} serial={} tls={}{} rule={} session_timeout={} "
               "reason=ok duration_ms={}",
               ctx.nas.name, ctx.calling_station, device, serial, out.tls_version, out.resumed ? " (resumed)" : "",
               decision->rule, session_timeout, ms_since(ctx.started, steady_now()));
  return bytes;
}

policy::Decision Server::decide(const Context& ctx, const eap::TlsPeer& peer) const {
  if (options_.policy == nullptr) return policy::Decision{};
  // The device comes from the certificate and the ledger index, never from User-Name.
  policy::AccessContext c;
  c.device_id = peer.identity.device_id;
  c.device_name = peer.identity.device_name;
  c.device_groups = peer.identity.device_groups;
  c.profile = peer.identity.profile;
  c.subject = peer.subject;
  c.sans = peer.sans;
  c.serial_hex = peer.serial_hex;
  c.cert_not_after = peer.identity.not_after;
  c.nas_name = ctx.nas.name;
  c.nas_groups = ctx.nas.groups;
  if (const Attribute* a = ctx.request.find(attr::CalledStationId)) c.called_station_id.assign(a->value.begin(), a->value.end());
  if (const Attribute* a = ctx.request.find(attr::CallingStationId)) c.calling_station_id.assign(a->value.begin(), a->value.end());
  c.nas_port_type = ctx.request.integer(attr::NasPortType);
  c.now = now();
  return options_.policy->decide(c);
}

void Server::tell(const Context& ctx, DecisionOutcome outcome, std::string_view reason, bool handshake) const {
  if (NasActivity* activity = ctx.nas.activity.get())
    activity->count(outcome == DecisionOutcome::accept ? activity->accepts : activity->rejects);
  if (options_.decisions == nullptr) return;
  DecisionSeen seen{ctx.nas.name, outcome, reason, std::nullopt};
  if (handshake) seen.handshake = steady_now() - ctx.started;
  options_.decisions->decided(seen);
}

// A conversation the table has no room for: a new one (its NAS at its cap, or the memory
// budget spent) or one whose buffers grew past the budget, with nothing idle to make
// room. Access-Reject with EAP-Failure (RFC 3579 §2.6.3) rather than silence: a NAS
// that gets no answer retransmits (each retransmission asking again) and, after a few,
// marks the server dead for every device behind it (RFC 5080 §2.2.1); the device's
// supplicant backs off and retries. Counted and logged at debug, not audited: a flood must
// not become a flood of ledger rows and log lines.
std::optional<Bytes> Server::refuse(Context& ctx, EapSessions::Admission why) {
  const bool nas_cap = why == EapSessions::Admission::refused_nas_cap;
  bump(nas_cap ? counters_.eap_refused_nas_cap : counters_.eap_refused_budget);
  bump(counters_.access_reject);
  emit_outcome(ctx, nullptr, "", [nas_cap](ca::Event& event) {
    event.outcome = "reject";
    event.reason = "session_table_full";
    event.detail = nas_cap ? "the NAS holds its maximum of open EAP conversations (max_eap_sessions_per_nas)"
                           : "the EAP memory budget is spent (eap_memory_budget_mib)";
  });
  tell(ctx, DecisionOutcome::reject, "session_table_full", false);
  spdlog::debug("radius: refuse EAP conversation from NAS {} calling_station={}: {}", ctx.nas.name,
                ctx.calling_station, nas_cap ? "the NAS holds its maximum of open conversations" : "memory budget spent");
  Packet reply;
  reply.code = Code::AccessReject;
  reply.identifier = ctx.request.identifier;
  add_eap_message(reply, eap_failure_for(ctx.eap));
  copy_proxy_state(ctx.request, reply);
  return encode(reply, ctx.request, ctx.nas);
}

// RFC 3579 §2.6.3: Access-Reject carries EAP-Failure when the conversation had an EAP
// Identifier to answer. Every reject is logged and audited; silent drops are not.
std::optional<Bytes> Server::reject(Context& ctx, const std::string& code, const std::string& reason,
                                    Bytes eap_failure, const eap::TlsPeer* peer, const std::string& tls_version,
                                    const std::string& rule) {
  bump(counters_.access_reject);
  const std::string serial = peer != nullptr ? peer->serial_hex : "-";
  const std::string device = peer != nullptr && !peer->identity.device_name.empty() ? peer->identity.device_name : "-";
  const std::string shown_rule = rule.empty() ? "-" : rule;
  const std::string event_reason = code.empty() ? eap::reason::kEapProtocol : code;
  tell(ctx, DecisionOutcome::reject, event_reason, ctx.conversation != nullptr);
  spdlog::info("radius: reject nas={} calling_station={} device={} serial={} tls={} rule={} reason=\"{}\" "
               "duration_ms={} event_reason={}",
               ctx.nas.name, ctx.calling_station, device, serial, tls_version.empty() ? "-" : tls_version, shown_rule,
               reason, ms_since(ctx.started, steady_now()), event_reason);
  ca::AuditEntry entry;
  entry.at = now();
  entry.actor = "radius";
  entry.action = "radius.reject";
  entry.target = serial;
  entry.detail = reason + " (" + (rule.empty() ? "" : "rule=" + rule + " ") + "nas=" + ctx.nas.name +
                 " calling_station=" + ctx.calling_station + ")";
  // On the ledger writer: the reply does not wait for the audit row's fsync.
  writer_.submit("audit row of a reject",
                 [entry = std::move(entry)](ca::Ledger& ledger) { ledger.append_audit(entry); });
  emit_outcome(ctx, peer, tls_version, [&](ca::Event& event) {
    event.outcome = "reject";
    event.reason = event_reason;
    event.rule = rule;
    event.detail = reason;
  });
  Packet reply;
  reply.code = Code::AccessReject;
  reply.identifier = ctx.request.identifier;
  if (!eap_failure.empty()) add_eap_message(reply, eap_failure);
  copy_proxy_state(ctx.request, reply);
  return encode(reply, ctx.request, ctx.nas);
}

}  // namespace portcullis::radius
