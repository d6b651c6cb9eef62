// The RADIUS server's protocol logic, without sockets: one datagram and its source in, the
// reply bytes (or nothing: a silent drop) out. The UDP listener calls handle() from any io
// thread; everything here is thread-safe.
//
// Pipeline per datagram (docs/architecture.md, "One EAP-TLS conversation"):
//   NAS lookup by source address (unknown: drop, RFC 2865 §3)
//   -> parse (malformed: drop, counted by kind)
//   -> authenticate the request (Message-Authenticator, RFC 3579 §3.2 / BlastRADIUS;
//      Accounting Request Authenticator, RFC 2866 §3) — before the duplicate cache, so a
//      forged packet never touches it (RFC 5080 §2.2.2)
//   -> duplicate cache (retransmission: the cached reply again; in progress: drop)
//   -> Access-Request: State -> EAP conversation -> eap::Authenticator (see its header)
//      Status-Server: Access-Accept / Accounting-Response (RFC 5997 §3, §4)
//      Accounting-Request: radius/accounting.hpp
#pragma once

#include "ca/ledger/ledger.hpp"
#include "radius/accounting.hpp"
#include "policy/decision.hpp"
#include "radius/clients.hpp"
#include "radius/conversation_event.hpp"
#include "radius/counters.hpp"
#include "radius/decision_observer.hpp"
#include "radius/drop_events.hpp"
#include "radius/duplicate_cache.hpp"
#include "radius/eap/authenticator.hpp"
#include "radius/eap/tls_engine.hpp"
#include "radius/ledger_writer.hpp"
#include "radius/packet.hpp"
#include "radius/sessions.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string_view>

namespace portcullis::radius {

enum class SocketKind : std::uint8_t { auth = 0, acct = 1 };

struct Datagram {
  ByteView bytes;
  IpAddress source;
  std::uint16_t source_port = 0;
  SocketKind socket = SocketKind::auth;
};

struct ServerOptions {
  std::size_t fragment_size = 1398;                          // EAP-TLS data per packet (see eap::AuthenticatorConfig)
  std::chrono::milliseconds eap_idle_timeout = std::chrono::seconds(60);
  std::size_t max_eap_sessions = 10000;                      // half-open conversations
  std::size_t max_eap_sessions_per_nas = 2000;               // per NAS client entry
  std::size_t eap_memory_budget = 256u << 20;                // bytes; see EapSessions
  std::chrono::milliseconds duplicate_lifetime = std::chrono::seconds(10);
  std::size_t duplicate_capacity = 65536;
  std::uint32_t max_session_timeout = 86400;                 // seconds; also capped by the cert's notAfter
  LiveSessionLimits live_sessions;                           // accounting sessions held in memory
  AccountingRetention retention;                             // stopped accounting sessions in the ledger
  std::size_t ledger_queue = 10000;                          // ledger writes waiting for the writer thread
  std::function<ca::UnixTime()> clock;                       // wall clock; empty = system clock
  std::function<SteadyClock::time_point()> steady_clock;     // for timeouts; empty = steady_clock::now
  // Access policy after a successful EAP-TLS handshake (radius/ -> AccessContext ->
  // policy/). Null: every valid device is accepted with no extra attributes. Must
  // outlive the server; it swaps its own rules on reload.
  const policy::Decider* policy = nullptr;
  // Decision events (ca/event.hpp): one per EAP conversation, NAS-level drops aggregated
  // (drop_events.hpp). Null: none. Must outlive the server.
  ca::EventSink* events = nullptr;
  // Told every accept and reject (the metrics). Null: nobody. Must outlive the server.
  DecisionObserver* decisions = nullptr;
};

class Server {
 public:
  // `ledger` must outlive the server; it receives the audit rows of rejections and the
  // accounting sessions, from the server's ledger writer thread (never from handle()). The NAS table is a snapshot that replace_nas_table() swaps.
  Server(std::shared_ptr<const NasTable> nas, std::shared_ptr<const eap::TlsServerConfig> tls, ca::Ledger& ledger,
         ServerOptions options = {});
  // `nas` must outlive the server (tests; the service uses the snapshot form).
  Server(const NasTable& nas, std::shared_ptr<const eap::TlsServerConfig> tls, ca::Ledger& ledger,
         ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Never throws; nullopt means "send nothing".
  std::optional<Bytes> handle(const Datagram& datagram);
  // The same for a request whose NAS is already known (RadSec: by its TLS certificate,
  // RFC 6614 §2.3), not looked up by the source address. `datagram.source` and
  // `source_port` still key the duplicate cache: per connection for a stream.
  std::optional<Bytes> handle(const Datagram& datagram, const NasClient& nas);

  // SIGHUP: clients, secrets and groups change at once for every later datagram; a
  // request already being handled finishes with the table it started with.
  void replace_nas_table(std::shared_ptr<const NasTable> nas) { reconfigure(std::move(nas), {}); }
  // The same, and `also` (the policy's new rules) in the same step: it waits for the
  // requests being handled, which hold the configuration from their NAS lookup to their
  // decision, so each request is decided by the old table and rules or by the new ones,
  // never by the new NAS groups with the old rules.
  void reconfigure(std::shared_ptr<const NasTable> nas, const std::function<void()>& also);
  std::shared_ptr<const NasTable> nas_table() const { return nas_.load(); }

  const Counters& counters() const { return counters_; }
  // For the listener, which alone sees a send fail.
  std::atomic<std::uint64_t>* send_failure_counter() { return &counters_.send_failed; }
  const AccountingSessions& live_sessions() const { return live_; }
  // RFC 5176 dynamic authorization (app/ wires radius/dynauth_client.hpp): the live
  // sessions to disconnect and the Accepts not yet claimed by accounting.
  AccountingSessions& live_sessions() { return live_; }
  AcceptRecords& accept_records() { return accepts_; }
  // The server's ledger writes, for others that must not wait for the disk on an io
  // thread (RFC 5176 outcomes); flush() waits until what is queued is written.
  LedgerWriter& ledger_writer() { return writer_; }
  std::size_t eap_conversations() const { return eap_sessions_.size(); }
  std::size_t eap_conversations_of(const std::string& nas) const { return eap_sessions_.size_of(nas); }
  std::size_t eap_charged_bytes() const { return eap_sessions_.charged_bytes(); }
  // Run every few seconds: conversations idle past the timeout end (their abandoned
  // events), and the NAS-level drop counts of minutes that are over are emitted.
  void sweep();

 private:
  struct Context;
  std::optional<Bytes> handle_known(const Datagram& datagram, const NasClient& nas);
  std::optional<Bytes> dispatch(const Datagram& datagram, const NasClient& nas, const Packet& request);
  bool authentic(const Datagram& datagram, const NasClient& nas, const Packet& request);
  std::optional<Bytes> status_server(const Packet& request, const NasClient& nas, SocketKind socket);
  std::optional<Bytes> access_request(const Packet& request, const NasClient& nas, const IpAddress& source);
  std::optional<Bytes> start_or_continue(Context& ctx);
  std::optional<Bytes> challenge(Context& ctx, const std::string& old_state, Bytes eap);
  std::optional<Bytes> accept(Context& ctx, const eap::AuthenticatorOutput& out);
  std::optional<Bytes> refuse(Context& ctx, EapSessions::Admission why);
  // `code`: the event vocabulary term; `reason`: the sentence (log, audit, event detail).
  std::optional<Bytes> reject(Context& ctx, const std::string& code, const std::string& reason, Bytes eap_failure,
                              const eap::TlsPeer* peer = nullptr, const std::string& tls_version = "",
                              const std::string& rule = "");
  template <class Fill>
  void emit_outcome(Context& ctx, const eap::TlsPeer* peer, std::string_view tls_version, Fill&& fill);
  void drop_event(const Datagram& datagram, std::string_view nas, DropReason reason, const char* detail);
  policy::Decision decide(const Context& ctx, const eap::TlsPeer& peer) const;
  void tell(const Context& ctx, DecisionOutcome outcome, std::string_view reason, bool handshake) const;
  std::optional<Bytes> encode(const Packet& reply, const Packet& request, const NasClient& nas);
  ca::UnixTime now() const;
  SteadyClock::time_point steady_now() const;

  std::atomic<std::shared_ptr<const NasTable>> nas_;
  mutable std::shared_mutex config_mutex_;  // shared: one datagram's handling; unique: reconfigure()
  std::shared_ptr<const eap::TlsServerConfig> tls_;
  ca::Ledger& ledger_;
  ServerOptions options_;
  Counters counters_;
  DuplicateCache duplicates_;
  DropEvents drop_events_;
  EapSessions eap_sessions_;
  AcceptRecords accepts_;
  AccountingSessions live_;
  LedgerWriter writer_;  // after what its jobs touch, so it drains before they go
  std::unique_ptr<Accounting> accounting_;
};

}  // namespace portcullis::radius
