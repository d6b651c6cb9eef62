#include "app/session_control.hpp"

#include "ca/log_text.hpp"
#include "radius/accounting.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <map>

namespace portcullis::app {
namespace {

namespace asio = boost::asio;
using radius::DynauthKind;
using radius::DynauthOutcome;

std::string outcome_text(DynauthKind kind, const radius::DynauthResult& r) {
  std::string text = kind == DynauthKind::disconnect ? "Disconnect " : "CoA ";
  text += r.protocol_error ? "Protocol-Error" : radius::to_string(r.outcome);
  if (r.error_cause)
    text += " " + std::to_string(*r.error_cause) + " (" + radius::error_cause_name(*r.error_cause) + ")";
  return text;
}

// RFC 5176 §3.6 Error-Cause 503 Session-Context-Not-Found: the NAS has no such session.
constexpr std::uint32_t kSessionContextNotFound = 503;

std::string lower_outcome(DynauthOutcome outcome) {
  switch (outcome) {
    case DynauthOutcome::ack: return "ack";
    case DynauthOutcome::nak: return "nak";
    case DynauthOutcome::timeout: return "timeout";
  }
  return "timeout";
}

// Why a request is sent, as the event vocabulary's term: revoked, device_disabled, expired.
std::string why_term(const std::string& why) {
  if (why.starts_with("certificate revoked")) return "revoked";
  if (why.starts_with("device disabled")) return "device_disabled";
  if (why.starts_with("certificate expired")) return "expired";
  if (why.starts_with("operator request")) return "operator";
  return "other";
}

// ack -> "ok", nak -> "error_cause:<n>" (RFC 5176 §3.6), a Protocol-Error (RFC 7930 §4) ->
// "protocol_error:<n>", timeout -> "timeout".
std::string result_reason(const radius::DynauthResult& r) {
  switch (r.outcome) {
    case DynauthOutcome::ack: return "ok";
    case DynauthOutcome::nak: {
      const std::string kind = r.protocol_error ? "protocol_error" : "error_cause";
      return r.error_cause ? kind + ":" + std::to_string(*r.error_cause) : r.protocol_error ? kind : "nak";
    }
    case DynauthOutcome::timeout: return "timeout";
  }
  return "timeout";
}

}  // namespace

std::shared_ptr<SessionControl> SessionControl::create(asio::io_context& io, radius::Server& server,
                                                       ca::Ledger& ledger, const ca::IdentityIndex& index,
                                                       SessionControlOptions options) {
  return std::shared_ptr<SessionControl>(new SessionControl(io, server, ledger, index, std::move(options)));
}

SessionControl::SessionControl(asio::io_context& io, radius::Server& server, ca::Ledger& ledger,
                               const ca::IdentityIndex& index, SessionControlOptions options)
    : io_(io),
      server_(server),
      ledger_(ledger),
      index_(index),
      options_(std::move(options)),
      client_(radius::DynauthClient::create(io, options_.client)),
      expiry_timer_(asio::make_strand(io)),  // stop() comes from another thread: cancel on its strand
      flush_timer_(io) {}

void SessionControl::start() { schedule_expiry_check(); }

void SessionControl::stop() {
  stopped_ = true;
  asio::post(expiry_timer_.get_executor(), [self = shared_from_this()] { self->expiry_timer_.cancel(); });
  client_->stop();
  flush_marks();
}

// A session known from its Accept alone: identified by Calling-Station-Id and User-Name.
SessionControl::Target SessionControl::target_of(radius::AcceptRecord a) {
  Target t;
  t.session.nas = a.nas;
  t.session.serial = a.serial;
  t.session.calling_station_id = a.calling_station_id;
  t.session.user_name = a.user_name;
  t.session.nas_identity = a.nas_identity;
  t.session.rule = a.rule;
  t.session.coa_on_disable = a.coa_on_disable;
  t.session.coa_reply = a.coa_reply;
  t.accept = std::move(a);
  return t;
}

std::string SessionControl::accept_key(const radius::AcceptRecord& a) {
  return a.nas + '\n' + a.calling_station_id + '\n' + a.serial + '\n' + std::to_string(a.accepted_at);
}

std::vector<SessionControl::Target> SessionControl::targets_of(const std::string& serial, ca::UnixTime now) const {
  std::vector<Target> out;
  for (radius::LiveSession& s : server_.live_sessions().by_serial(serial)) out.push_back(Target{std::move(s), {}});
  for (radius::AcceptRecord& a : server_.accept_records().unclaimed_by_serial(serial, now))
    out.push_back(target_of(std::move(a)));
  return out;
}

bool SessionControl::first_time(const std::string& cause) {
  // A minute is far longer than the race it closes (a few milliseconds between a commit
  // and the registry's index update) and keeps the map as small as a minute's changes.
  constexpr auto kRemember = std::chrono::minutes(1);
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  std::erase_if(recent_causes_, [&](const auto& entry) { return now - entry.second > kRemember; });
  return recent_causes_.emplace(cause, now).second;
}

void SessionControl::forget_cause(const std::string& cause) {
  std::lock_guard lock(mutex_);
  recent_causes_.erase(cause);
}

void SessionControl::on_revoked(const std::vector<ca::CertificateRecord>& revoked) {
  // Other threads (the ledger follower, Intune's revocation sync) call in; once stopped,
  // the io_context the requests would go through is being torn down.
  if (stopped_) return;
  try {
    const ca::UnixTime now = ca::now_unix();
    std::vector<Action> actions;
    for (const ca::CertificateRecord& cert : revoked) {
      if (!first_time("revoked:" + cert.serial_hex)) continue;
      // A revoked certificate always loses its sessions; a CoA would leave it on the network.
      for (Target& t : targets_of(cert.serial_hex, now))
        actions.push_back({std::move(t), DynauthKind::disconnect, "certificate revoked", ca::kClaimRevoked});
    }
    if (actions.empty()) return;
    const std::size_t sent = claim_and_send(std::move(actions));
    if (sent > 0)
      spdlog::info("dynauth: {} Disconnect-Request(s) queued for {} revoked certificate(s)", sent, revoked.size());
  } catch (const std::exception& e) {
    spdlog::error("dynauth: live sessions of {} revoked certificate(s) not disconnected: {}", revoked.size(), e.what());
  }
}

void SessionControl::on_device_change(const ca::Device& device) {
  if (stopped_) return;  // as on_revoked
  const std::string cause = "disabled:" + std::to_string(device.id);
  // Enabling needs nothing sent: the index already lets the next authentication through.
  // A later disable is a new cause.
  if (device.enabled) {
    forget_cause(cause);
    return;
  }
  if (!first_time(cause)) return;
  try {
    const ca::UnixTime now = ca::now_unix();
    ca::CertificateFilter filter;
    filter.device_id = device.id;
    filter.status = "valid";
    filter.now = now;
    filter.limit = 100000;
    std::vector<Action> actions;
    for (const ca::CertificateRecord& cert : ledger_.list_certificates(filter)) {
      for (Target& t : targets_of(cert.serial_hex, now)) {
        const DynauthKind kind = t.session.coa_on_disable ? DynauthKind::coa : DynauthKind::disconnect;
        actions.push_back({std::move(t), kind, "device disabled", ca::kClaimDisabled});
      }
    }
    if (actions.empty()) return;
    const std::size_t sent = claim_and_send(std::move(actions));
    if (sent > 0)
      spdlog::info("dynauth: {} request(s) queued for the sessions of disabled device {}", sent, device.name);
  } catch (const std::exception& e) {
    spdlog::error("dynauth: live sessions of disabled device {} not handled: {}", device.name, e.what());
  }
}

std::size_t SessionControl::claim_and_send(std::vector<Action> actions) {
  // The claims go per cause: one batch each (a call has one cause, the sweep up to three).
  std::map<std::string, std::vector<std::size_t>> accounted;
  for (std::size_t i = 0; i < actions.size(); ++i)
    if (!actions[i].target.accept) accounted[actions[i].claim].push_back(i);
  std::vector<bool> send_it(actions.size(), true);
  const ca::UnixTime now = ca::now_unix();
  for (const auto& [claim, indexes] : accounted) {
    std::vector<ca::RadiusSessionClaim> claims;
    for (const std::size_t i : indexes) {
      const radius::LiveSession& s = actions[i].target.session;
      claims.push_back({s.nas, s.acct_session_id, s.serial, s.calling_station_id, s.user_name, now});
    }
    std::vector<bool> won;
    try {
      won = ledger_.claim_radius_sessions(claims, claim);
    } catch (const std::exception& e) {
      // Better twice than never: a NAS answers a second Disconnect for a session it already
      // ended with NAK Session-Context-Not-Found (RFC 5176 §3.6), while a request not sent
      // leaves a revoked device on the network.
      spdlog::warn("dynauth: {} session(s) not claimed in the ledger ({}); sending anyway", claims.size(), e.what());
      continue;
    }
    for (std::size_t k = 0; k < indexes.size(); ++k) {
      if (k < won.size() && won[k]) continue;
      const radius::LiveSession& s = actions[indexes[k]].target.session;
      send_it[indexes[k]] = false;
      spdlog::info("dynauth: nas={} session={} serial={} ({}): another node has claimed it; not sent from here", s.nas,
                   ca::log_field(s.acct_session_id), s.serial, actions[indexes[k]].why);
      server_.live_sessions().mark(s.nas, s.acct_session_id, "sent by another node");
    }
  }
  std::size_t sent = 0;
  for (std::size_t i = 0; i < actions.size(); ++i) {
    if (!send_it[i]) continue;
    send(actions[i].target, actions[i].kind, actions[i].why);
    ++sent;
  }
  return sent;
}

void SessionControl::emit(const radius::LiveSession& s, const std::string& nas_ip, std::string outcome,
                          std::string reason, std::string detail) {
  if (options_.events == nullptr) return;
  ca::Event e;
  e.kind = ca::event_kind::kDynauth;
  e.outcome = std::move(outcome);
  e.reason = std::move(reason);
  e.detail = std::move(detail);
  e.nas = s.nas;
  e.nas_ip = nas_ip;
  if (auto mac = ca::normalize_mac(s.calling_station_id)) e.mac = std::move(*mac);
  e.user_name = ca::log_safe(s.user_name);
  e.serial = s.serial;
  e.rule = s.rule;
  try {
    e.device = index_.by_serial_hex(s.serial, ca::now_unix()).device_name;
  } catch (const std::exception&) {
    // A serial the index cannot read: the event goes without the device.
  }
  options_.events->emit(std::move(e));
}

void SessionControl::use_radsec(std::weak_ptr<DynauthChannel> channel) {
  std::lock_guard lock(mutex_);
  radsec_ = std::move(channel);
}

radius::DynauthRequest SessionControl::request_for(const Target& t, DynauthKind kind, const radius::NasClient& nas) {
  const radius::LiveSession& s = t.session;
  radius::DynauthRequest request;
  request.kind = kind;
  request.target.nas_name = nas.name;
  if (s.nas_identity.source) request.target.address = *s.nas_identity.source;
  request.target.port = nas.coa_port;
  request.target.secret = nas.secret;
  request.target.nas_ip_address = s.nas_identity.nas_ip_address;
  request.target.nas_ipv6_address = s.nas_identity.nas_ipv6_address;
  request.target.nas_identifier = s.nas_identity.nas_identifier;
  request.target.acct_session_id = s.acct_session_id;
  request.target.calling_station_id = s.calling_station_id;
  request.target.user_name = s.user_name;
  if (kind == DynauthKind::coa) request.authorization = s.coa_reply;
  return request;
}

void SessionControl::in_flight(const Target& t, DynauthKind kind, const std::string& why, const std::string& to) {
  const radius::LiveSession& s = t.session;
  // In flight from now on: the sweep must not send it again before the answer is in.
  if (t.accept) {
    std::lock_guard lock(mutex_);
    swept_.insert(accept_key(*t.accept));
  } else {
    server_.live_sessions().mark(s.nas, s.acct_session_id, kind == DynauthKind::disconnect ? "Disconnect sent" : "CoA sent");
  }
  emit(s, to, "sent", why_term(why),
       std::string(radius::to_string(kind)) + " for session " + ca::log_safe(s.acct_session_id) + ": " + why);
}

void SessionControl::send(const Target& t, DynauthKind kind, const std::string& why) {
  const radius::LiveSession& s = t.session;
  std::shared_ptr<DynauthChannel> radsec;
  {
    std::lock_guard lock(mutex_);
    radsec = radsec_.lock();
  }
  if (radsec) {
    if (std::optional<RadsecDynauthTarget> client = radsec->radsec_client(s.nas)) {
      radius::DynauthRequest request = request_for(t, kind, client->udp);
      if (client->over_connection) {
        send_radsec(t, std::move(request), why, *radsec);
        return;
      }
      // A NAS that drops what it did not ask for (radsecproxy 1.9) would let the request
      // wait its whole timeout on the connection: straight to UDP instead.
      in_flight(t, kind, why, s.nas_identity.source ? s.nas_identity.source->to_string() : "");
      radsec_down(t, std::move(request), why, "dynauth_over_connection = false", "not_over_connection");
      return;
    }
  }
  const std::optional<radius::NasClient> nas =
      s.nas_identity.source && options_.find_nas ? options_.find_nas(*s.nas_identity.source) : std::nullopt;
  if (!nas) {
    spdlog::warn("dynauth: {} for nas={} session={} serial={} ({}) not sent: the NAS's address is unknown or no "
                 "longer a configured client",
                 radius::to_string(kind), s.nas, ca::log_field(s.acct_session_id), s.serial, why);
    emit(s, s.nas_identity.source ? s.nas_identity.source->to_string() : "", "not_sent", "nas_unknown",
         std::string(radius::to_string(kind)) + " for session " + ca::log_safe(s.acct_session_id) + " (" + why +
             ") not sent: the NAS's address is unknown or no longer a configured client");
    return;
  }
  radius::DynauthRequest request = request_for(t, kind, *nas);
  in_flight(t, kind, why, request.target.address.to_string());
  send_udp(t, std::move(request), why);
}

void SessionControl::send_udp(const Target& t, radius::DynauthRequest request, const std::string& why) {
  const radius::LiveSession& s = t.session;
  const DynauthKind kind = request.kind;
  try {
    client_->send(std::move(request), [self = shared_from_this(), t, why](const radius::DynauthRequest& req,
                                                                          const radius::DynauthResult& result) {
      self->completed(t, req, result, why);
    });
  } catch (const std::exception& e) {
    spdlog::warn("dynauth: {} for nas={} session={} serial={} not sent: {}", radius::to_string(kind), s.nas,
                 ca::log_field(s.acct_session_id), s.serial, e.what());
  }
}

// The whole wait a UDP request gets (every retransmission's timeout), so a NAS has as long
// to answer down its connection, where nothing is retransmitted (RFC 9765 §4.2.1).
std::chrono::milliseconds SessionControl::radsec_timeout() const {
  std::chrono::milliseconds total{0}, step = std::max(options_.client.initial_timeout, std::chrono::milliseconds(1));
  for (int i = 0; i < std::max(1, options_.client.attempts); ++i) {
    total += step;
    step = std::min(step * 2, std::max(options_.client.max_timeout, step));
  }
  return total;
}

void SessionControl::send_radsec(const Target& t, radius::DynauthRequest request, const std::string& why,
                                 DynauthChannel& radsec) {
  const radius::LiveSession& s = t.session;
  in_flight(t, request.kind, why, s.nas_identity.source ? s.nas_identity.source->to_string() : "");
  radius::DynauthRequest copy = request;  // kept for the answer and for the fallback
  const bool sent = radsec.send_dynauth(
      s.nas, std::move(copy), radsec_timeout(),
      [self = shared_from_this(), t, request, why](std::optional<radius::DynauthResult> result) {
        if (result) self->completed(t, request, *result, why);
        else self->radsec_down(t, request, why, "its RadSec connection closed before an answer", "nas_not_connected");
      });
  if (!sent) radsec_down(t, std::move(request), why, "no RadSec connection is up", "nas_not_connected");
}

// RFC 5176 over UDP to the NAS's coa_port when its entry names a coa_secret; otherwise the
// outcome says it could not be sent (`reason`: the event's).
void SessionControl::radsec_down(const Target& t, radius::DynauthRequest request, const std::string& why,
                                 const std::string& cause, const char* reason) {
  const radius::LiveSession& s = t.session;
  if (!request.target.secret.empty() && s.nas_identity.source) {
    spdlog::info("dynauth: {} for nas={} session={}: {}; over UDP to port {} instead", radius::to_string(request.kind),
                 s.nas, ca::log_field(s.acct_session_id), cause, request.target.port);
    send_udp(t, std::move(request), why);
    return;
  }
  const std::string kind = request.kind == DynauthKind::disconnect ? "Disconnect" : "CoA";
  const std::string outcome = kind + " not sent: " + cause + " and no coa_secret for UDP";
  spdlog::warn("dynauth: {} nas={} session={} serial={} ({})", outcome, s.nas, ca::log_field(s.acct_session_id),
               s.serial, why);
  emit(s, s.nas_identity.source ? s.nas_identity.source->to_string() : "", "not_sent", reason,
       outcome + " for session " + ca::log_safe(s.acct_session_id) + " (" + why + ")");
  if (t.accept) return;  // nothing to mark: the sweep does not try it again (swept_)
  server_.live_sessions().mark(s.nas, s.acct_session_id, outcome);
  queue_mark(ca::RadiusSessionMark{s.nas, s.acct_session_id, outcome, ca::now_unix(), false});
}

void SessionControl::completed(const Target& t, const radius::DynauthRequest& request,
                               const radius::DynauthResult& result, const std::string& why) {
  const radius::LiveSession& s = t.session;
  const std::string outcome = outcome_text(request.kind, result);
  const auto log_level = result.outcome == DynauthOutcome::ack ? spdlog::level::info : spdlog::level::warn;
  spdlog::log(log_level,
              "dynauth: {} nas={} session={} calling_station={} serial={} reason=\"{}\" -> {} attempts={} ms={}",
              radius::to_string(request.kind), s.nas, ca::log_field(s.acct_session_id), ca::log_field(s.calling_station_id),
              s.serial, why, outcome, result.attempts, result.elapsed.count());

  emit(s, request.target.address.to_string(), lower_outcome(result.outcome), result_reason(result),
       outcome + " for session " + ca::log_safe(s.acct_session_id) + " (" + why + ") after " +
           std::to_string(result.attempts) + " attempt(s), " + std::to_string(result.elapsed.count()) + " ms");
  const bool gone = (request.kind == DynauthKind::disconnect && result.outcome == DynauthOutcome::ack) ||
                    (result.outcome == DynauthOutcome::nak && result.error_cause == kSessionContextNotFound);
  if (t.accept) {
    if (gone) server_.accept_records().forget(*t.accept);
  } else {
    if (gone) server_.live_sessions().stop(s.nas, s.acct_session_id);
    else server_.live_sessions().mark(s.nas, s.acct_session_id, outcome);
    queue_mark(ca::RadiusSessionMark{s.nas, s.acct_session_id, outcome, ca::now_unix(), gone});
  }
  // A disabled device whose NAS refused the CoA must not keep its access: cut the session.
  if (request.kind == DynauthKind::coa && result.outcome == DynauthOutcome::nak && !gone) {
    spdlog::warn("dynauth: CoA refused for nas={} session={}: sending a Disconnect-Request instead", s.nas,
                 ca::log_field(s.acct_session_id));
    send(t, DynauthKind::disconnect, why + ", CoA refused");
  }
}

void SessionControl::queue_mark(ca::RadiusSessionMark mark) {
  std::lock_guard lock(mutex_);
  marks_.push_back(std::move(mark));
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  // Answers to a bulk revocation arrive together: gather them for a moment and write them
  // in one transaction.
  flush_timer_.expires_after(std::chrono::milliseconds(100));
  flush_timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) { self->flush_marks(); });
}

void SessionControl::flush_marks() {
  std::vector<ca::RadiusSessionMark> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(marks_);
    flush_scheduled_ = false;
  }
  if (batch.empty()) return;
  // On the RADIUS server's ledger writer: this timer runs on an io thread, which must not
  // wait for the ledger's fsync. A full queue drops the batch (counted and logged there).
  const std::size_t n = batch.size();
  if (!server_.ledger_writer().submit(std::to_string(n) + " Disconnect/CoA outcome(s)",
                                      [batch = std::move(batch)](ca::Ledger& ledger) {
                                        ledger.mark_radius_sessions(batch);
                                      }))
    spdlog::error("dynauth: {} session outcome(s) not written to the ledger: its write queue is full", n);
}

std::size_t SessionControl::sweep() {
  const ca::UnixTime now = ca::now_unix();
  std::vector<Action> actions;
  std::set<std::string> seen;
  const auto check = [&](Target t, const std::string& key) {
    seen.insert(key);
    const ca::Identity id = index_.by_serial_hex(t.session.serial, now);
    // Expired: the Session-Timeout should have ended it already; NASes that ignore it get a
    // Disconnect. Revoked or disabled yet never acted on: a session the observers could not
    // see (its accounting arrived after the revocation).
    const bool untouched = t.session.dynauth.empty();
    if (id.verdict == ca::IdentityVerdict::expired) {
      actions.push_back({std::move(t), DynauthKind::disconnect, "certificate expired", ca::kClaimExpired});
    } else if (id.verdict == ca::IdentityVerdict::revoked && untouched) {
      actions.push_back(
          {std::move(t), DynauthKind::disconnect, "certificate revoked (found by the sweep)", ca::kClaimRevoked});
    } else if (id.verdict == ca::IdentityVerdict::device_disabled && untouched) {
      const DynauthKind kind = t.session.coa_on_disable ? DynauthKind::coa : DynauthKind::disconnect;
      actions.push_back({std::move(t), kind, "device disabled (found by the sweep)", ca::kClaimDisabled});
    }
  };
  for (radius::LiveSession& s : server_.live_sessions().all()) {
    if (s.serial.empty()) continue;
    const std::string key = s.nas + '\n' + s.acct_session_id;
    check(Target{std::move(s), {}}, key);
  }
  for (radius::AcceptRecord& a : server_.accept_records().unclaimed(now)) {
    const std::string key = accept_key(a);
    check(target_of(std::move(a)), key);
  }
  std::vector<Action> fresh;
  {
    std::lock_guard lock(mutex_);
    // Forget sessions that are gone, so the set stays as small as the live table.
    for (auto it = swept_.begin(); it != swept_.end();) it = seen.count(*it) ? std::next(it) : swept_.erase(it);
    for (Action& a : actions) {
      const std::string key = a.target.accept ? accept_key(*a.target.accept)
                                              : a.target.session.nas + '\n' + a.target.session.acct_session_id;
      if (swept_.insert(key).second) fresh.push_back(std::move(a));  // at most once per node; the claim across nodes
    }
  }
  if (fresh.empty()) return 0;
  const std::size_t queued = fresh.size();
  // The claims write to the ledger, which this io thread must not wait for: on the RADIUS
  // server's ledger writer, which sends what it won.
  if (!server_.ledger_writer().submit(std::to_string(queued) + " Disconnect/CoA claim(s)",
                                      [self = shared_from_this(), fresh = std::move(fresh)](ca::Ledger&) mutable {
                                        const std::size_t sent = self->claim_and_send(std::move(fresh));
                                        if (sent > 0)
                                          spdlog::info("dynauth: sweep queued {} request(s) for expired, revoked or "
                                                       "disabled sessions",
                                                       sent);
                                      })) {
    spdlog::error("dynauth: {} sweep request(s) not queued: the ledger write queue is full", queued);
    return 0;
  }
  return queued;
}

bool SessionControl::disconnect(const ca::RadiusSessionRow& row, const std::string& why) {
  if (stopped_) return false;
  Target t{radius::live_session_from_row(row), {}};
  for (radius::LiveSession& s : server_.live_sessions().by_serial(row.serial))
    if (s.nas == row.nas && s.acct_session_id == row.acct_session_id) t.session = std::move(s);
  send(t, DynauthKind::disconnect, why);
  return true;
}

void SessionControl::schedule_expiry_check() {
  expiry_timer_.expires_after(options_.expiry_check);
  expiry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    try {
      self->sweep();
    } catch (const std::exception& e) {
      spdlog::error("dynauth: session sweep failed: {}", e.what());
    }
    self->schedule_expiry_check();
  });
}

}  // namespace portcullis::app
