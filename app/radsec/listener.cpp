#include "app/radsec/listener.hpp"

#include "app/radsec/tls_context.hpp"
#include "ca/hex.hpp"
#include "ca/log_text.hpp"
#include "ca/x509.hpp"
#include "radius/attributes.hpp"
#include "radius/radsec/framing.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <array>
#include <deque>
#include <set>
#include <span>

namespace portcullis::app {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

namespace {

// The connection a handshake belongs to, for the verify callback. Not SSL's app data:
// Boost.Asio's ssl::stream keeps its own verify callback there and deletes it with the stream.
int connection_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

radius::IpAddress to_ip(const asio::ip::address& address) {
  if (address.is_v4()) return radius::IpAddress::v4(address.to_v4().to_bytes());
  return radius::IpAddress::v6(address.to_v6().to_bytes());
}

// RFC 6614 §2.4 (one port for both): accounting is told apart by its code, as the UDP
// listeners tell it by the port it came to.
// TLS handshake seconds: a NAS on the LAN takes milliseconds; a far one, or a busy server,
// longer; the handshake timeout bounds it.
const std::vector<double> kHandshakeBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

radius::SocketKind kind_of(const radius::Bytes& packet) {
  constexpr std::uint8_t kAccountingRequest = 4;  // RFC 2866 §3
  return packet[0] == kAccountingRequest ? radius::SocketKind::acct : radius::SocketKind::auth;
}

// The NAS's answer to a Disconnect/CoA we sent down its connection (RFC 5176 §2.3): told
// from the NAS's own requests by its code, as it shares the connection with them. A
// Protocol-Error from the NAS can only answer one of ours: the NAS is the client of its own
// requests (RFC 7930 §4, RFC 9765 §6.1).
bool is_dynauth_answer(const radius::Bytes& packet) {
  using radius::Code;
  const auto code = static_cast<Code>(packet[0]);
  return code == Code::DisconnectAck || code == Code::DisconnectNak || code == Code::CoaAck || code == Code::CoaNak ||
         code == Code::ProtocolError;
}

std::uint32_t token_of(const radius::Bytes& packet) {  // RFC 9765 §4.1, network byte order
  return std::uint32_t{packet[4]} << 24 | std::uint32_t{packet[5]} << 16 | std::uint32_t{packet[6]} << 8 | packet[7];
}

std::uint32_t random_token() {
  const auto b = ca::random_bytes(4);
  return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
}

}  // namespace

class RadsecListener::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<RadsecListener> listener, tcp::socket socket, ssl::context& tls)
      : listener_(std::move(listener)), stream_(std::move(socket), tls), timer_(stream_.get_executor()) {
    boost::system::error_code ec;
    const tcp::endpoint peer = stream_.lowest_layer().remote_endpoint(ec);
    source_ = to_ip(peer.address());
    source_port_ = peer.port();
    peer_text_ = peer.address().to_string() + ":" + std::to_string(peer.port());
  }

  void start() {
    SSL_set_ex_data(stream_.native_handle(), connection_index(), this);
    arm_timer(listener_->options_.handshake_timeout, "TLS handshake timed out");
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](const boost::system::error_code& ec) { self->on_handshake(ec); });
  }

  // From the verify callback, during the handshake, on this connection's strand.
  void set_peer(std::shared_ptr<const Clients> clients, radius::radsec::PeerVerdict verdict) {
    clients_ = std::move(clients);
    verdict_ = std::move(verdict);
  }
  const radius::IpAddress& source() const { return source_; }
  const std::string& peer_text() const { return peer_text_; }

  // From any thread: a Disconnect/CoA down this connection, completed through `done`.
  void send_dynauth(radius::DynauthRequest request, std::chrono::milliseconds timeout, Done done) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), request = std::move(request), timeout,
                                        done = std::move(done)]() mutable {
      self->start_dynauth(std::move(request), timeout, std::move(done));
    });
  }

  // A refusal of this connection, with what the certificate said if one was judged.
  radius::radsec::Refusal refusal(const char* reason, std::string detail) const {
    return radius::radsec::Refusal{source_,        reason,          std::move(detail), verdict_.nas,
                                   verdict_.cn,    verdict_.serial, verdict_.issuer,   verdict_.device};
  }

  // From outside the strand (recheck, stop): posted onto it.
  void close_if_no_longer_good() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->admitted_ && !self->still_good()) {
        ++self->listener_->counters_.closed_revoked;
        self->close("its NAS certificate is no longer good (revoked, expired or device disabled)");
      }
    });
  }
  void close_from_outside(const char* why) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), why] { self->close(why); });
  }

 private:
  bool still_good() const {
    return clients_ && clients_->still_good(verdict_, listener_->identities_, ca::now_unix());
  }

  void on_handshake(const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec || verdict_.client == nullptr) {
      ++listener_->counters_.refused_tls;
      const std::string why = !verdict_.reason.empty() ? verdict_.reason : ec.message();
      spdlog::warn("radsec: connection from {} refused at TLS: {}", peer_text_, why);
      // No verdict: the handshake failed before (or without) a certificate to judge.
      const bool judged = verdict_.code != nullptr && *verdict_.code != '\0';
      listener_->refused(refusal(judged ? verdict_.code : "handshake_failed", "TLS: " + why));
      close(nullptr);
      return;
    }
    nas_ = verdict_.client->nas.name;
    if (!settle_version()) return;
    if (!listener_->admit(this, nas_)) {
      ++listener_->counters_.refused_nas_cap;
      spdlog::warn("radsec: connection from {} for NAS {} refused: it has {} connections already", peer_text_, nas_,
                   listener_->options_.max_connections_per_nas);
      listener_->refused(refusal("nas_cap", "NAS " + nas_ + " has " +
                                                std::to_string(listener_->options_.max_connections_per_nas) +
                                                " connections already (max_connections_per_nas)"));
      close(nullptr);
      return;
    }
    admitted_ = true;
    listener_->handshake_seconds_.observe(std::chrono::steady_clock::now() - started_);
    const int version = SSL_version(stream_.native_handle());
    ++(version == TLS1_3_VERSION ? listener_->counters_.tls13 : listener_->counters_.tls12);
    spdlog::info("radsec: NAS {} connected from {} ({}, {} certificate)", nas_, peer_text_,
                 SSL_get_version(stream_.native_handle()), verdict_.ours ? "our" : "a trusted CA's");
    if (nas_view_.profile == radius::Profile::radius_1_1)
      spdlog::info("radsec: NAS {} from {} speaks RADIUS/1.1 (ALPN radius/1.1, RFC 9765)", nas_, peer_text_);
    arm_timer(listener_->options_.idle_timeout, "idle");
    read();
  }

  void read() {
    if (closed_ || reading_) return;
    // Back-pressure: past the cap nothing more is read until replies are out, so one NAS
    // cannot queue unbounded work (RFC 6614 §2.5: at most 256 Identifiers in flight). The
    // replies waiting to be written count too: a NAS that does not read them stalls our
    // writes, and must not make us read (and answer) on into memory.
    if (in_flight_ + writes_.size() >= listener_->options_.max_in_flight) return;
    reading_ = true;
    stream_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                               std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
      close(ec == asio::error::eof || ec == ssl::error::stream_truncated ? "closed by the NAS" : nullptr);
      return;
    }
    framer_.feed(radius::ByteView(buffer_.data(), n));
    radius::Bytes packet;
    for (;;) {
      const auto status = framer_.next(packet);
      if (status == radius::radsec::StreamFramer::Status::need_more) break;
      if (status == radius::radsec::StreamFramer::Status::bad_length) {
        ++listener_->counters_.bad_framing;
        close("a packet Length outside 20..4096: the stream cannot be resynchronised (RFC 6614 §2.5)");
        return;
      }
      // Checked per packet too, not only when the ledger announces a change.
      if (!still_good()) {
        ++listener_->counters_.closed_revoked;
        close("its NAS certificate is no longer good");
        return;
      }
      arm_timer(listener_->options_.idle_timeout, "idle");
      if (is_dynauth_answer(packet)) {
        on_dynauth_answer(packet);
      } else if (!take_token(packet)) {
        return;
      } else {
        dispatch(std::move(packet));
      }
      packet.clear();
    }
    read();
  }

  // RFC 9765 §4.2.2: a Token names one outstanding request; a NAS that sends a second
  // request with the Token of one not yet answered has lost track of its own, and its
  // connection is closed. False then. (RADIUS/TLS has no such rule: a repeated Identifier is
  // a retransmission, which the server recognises.)
  bool take_token(const radius::Bytes& packet) {
    if (nas_view_.profile != radius::Profile::radius_1_1) return true;
    if (nas_tokens_.insert(token_of(packet)).second) return true;
    const std::string why = "it sent a request with Token " + ca::to_hex(std::span(packet).subspan(4, 4)) +
                            ", the Token of a request not yet answered (RFC 9765 §4.2.2)";
    spdlog::warn("radsec: NAS {} from {}: {}", nas_, peer_text_, why);
    listener_->refused(refusal("token_reuse", why));
    close("a RADIUS/1.1 Token reused while outstanding");
    return false;
  }

  void dispatch(radius::Bytes packet) {
    ++in_flight_;
    ++listener_->counters_.requests;
    // The handler runs off the strand, so an EAP-TLS step does not hold up this
    // connection's other requests; the client entry stays alive through clients_.
    asio::post(listener_->io_, [self = shared_from_this(), packet = std::move(packet)]() mutable {
      std::optional<radius::Bytes> reply;
      try {
        const radius::Datagram datagram{packet, self->source_, self->source_port_, kind_of(packet)};
        reply = self->listener_->handler_(datagram, self->nas_view_);
      } catch (const std::exception& e) {
        spdlog::error("radsec: request from NAS {} failed: {}", self->nas_, e.what());
      }
      if (!reply) reply = self->unhandled(packet);
      asio::post(self->stream_.get_executor(), [self, token = token_of(packet), reply = std::move(reply)]() mutable {
        self->on_reply(token, std::move(reply));
      });
    });
  }

  // RFC 9765 §6.1: over RADIUS/1.1 an Access- or Accounting-Request the server could not
  // handle (malformed, not stored, an internal error) is answered with a Protocol-Error,
  // 506, so the NAS knows it was received; over RADIUS/TLS it is dropped, as over UDP.
  std::optional<radius::Bytes> unhandled(const radius::Bytes& request) const {
    const auto code = static_cast<radius::Code>(request[0]);
    if (nas_view_.profile != radius::Profile::radius_1_1 ||
        (code != radius::Code::AccessRequest && code != radius::Code::AccountingRequest))
      return std::nullopt;
    return radius::radsec::protocol_error_packet("the request could not be handled; see the server's log",
                                                 radius::radsec::kResourcesUnavailable, token_of(request));
  }

  // `token`: the request's (RADIUS/1.1), free for the NAS to use again once answered.
  void on_reply(std::uint32_t token, std::optional<radius::Bytes> reply) {
    --in_flight_;
    nas_tokens_.erase(token);
    if (closed_) return;
    if (reply) {
      ++listener_->counters_.replies;
      writes_.push_back(std::move(*reply));
      if (writes_.size() == 1) write_next();
    }
    read();
  }

  void write_next() {
    asio::async_write(stream_, asio::buffer(writes_.front()),
                      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                        if (self->closed_) return;
                        self->writes_.pop_front();
                        if (ec) {
                          self->close(nullptr);
                          return;
                        }
                        // A reply taken by the NAS is activity: a NAS that reads but has
                        // nothing to send is not idle, one that never reads is closed.
                        self->arm_timer(self->listener_->options_.idle_timeout, "idle");
                        if (!self->writes_.empty()) self->write_next();
                        self->read();
                      });
  }

  void arm_timer(std::chrono::seconds after, const char* why) {
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this(), why](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      if (self->admitted_) ++self->listener_->counters_.closed_idle;
      // Not admitted: the only timer armed was the handshake's (a refused one closes at once).
      else
        self->listener_->refused(self->refusal(
            "handshake_timeout", "no complete TLS handshake within " +
                                     std::to_string(self->listener_->options_.handshake_timeout.count()) + " s"));
      // Replies waiting: the NAS stopped reading them, not sending (RFC 6614 §2.6).
      self->close(self->writes_.empty() ? why : "its replies have not been read for the idle timeout");
    });
  }

  // `why` null: already logged (or nothing worth a line).
  void close(const char* why) {
    if (closed_) return;
    closed_ = true;
    if (why != nullptr && admitted_) spdlog::info("radsec: connection of NAS {} from {} closed: {}", nas_, peer_text_, why);
    else if (why != nullptr) spdlog::info("radsec: connection from {} closed: {}", peer_text_, why);
    timer_.cancel();
    // Requests sent down the connection get no answer now: the caller may try elsewhere.
    for (auto& [_, out] : outbound_) {
      out->timer.cancel();
      listener_->complete(std::move(out->done), std::nullopt);
    }
    outbound_.clear();
    boost::system::error_code ignored;
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
    listener_->forget(this, admitted_ ? nas_ : std::string());
  }

  // RFC 9765 §3.3: the version this connection negotiated, against what the server and the
  // NAS's entry allow. A connection without the version required is closed after a
  // Protocol-Error (§3.3.1: "Close-S"); false then.
  bool settle_version() {
    const unsigned char* name = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(stream_.native_handle(), &name, &length);
    nas_view_ = verdict_.client->nas;
    nas_view_.profile =
        radius::radsec::profile_of_alpn(std::string_view(reinterpret_cast<const char*>(name), length));
    if (nas_view_.profile == radius::Profile::radius_1_1) {
      next_id_ = random_token();  // RFC 9765 §4.2.1: a counter from a random start
      return true;
    }
    if (!verdict_.client->require_radius_1_1 && listener_->options_.versions.v1_0) return true;
    const std::string why = "RADIUS/1.1 (ALPN radius/1.1 over TLS 1.3) is required of NAS " + nas_ + " (RFC 9765)";
    spdlog::warn("radsec: connection from {} refused: {}", peer_text_, why);
    ++listener_->counters_.refused_tls;
    listener_->refused(refusal("radius_version", why));
    // The handshake's timer would call this a handshake timeout if the NAS never reads
    // the Protocol-Error; the write of one small packet needs no deadline of its own.
    timer_.cancel();
    auto packet = std::make_shared<radius::Bytes>(radius::radsec::protocol_error_packet(why));
    asio::async_write(stream_, asio::buffer(*packet),
                      [self = shared_from_this(), packet](const boost::system::error_code&, std::size_t) {
                        self->close(nullptr);
                      });
    return false;
  }

  // A request of ours down this connection. Its Identifier is from our own space on the
  // connection (the NAS's requests have theirs; answers are told apart by code), or over
  // RADIUS/1.1 the next Token. Nothing is retransmitted on a reliable transport (RFC 9765
  // §4.2.1); `timeout` is the whole wait.
  struct Outbound {
    radius::DynauthRequest request;
    radius::Bytes wire;
    Done done;
    std::chrono::steady_clock::time_point sent;
    asio::steady_timer timer;
    explicit Outbound(asio::any_io_executor executor) : timer(std::move(executor)) {}
  };

  void start_dynauth(radius::DynauthRequest request, std::chrono::milliseconds timeout, Done done) {
    if (closed_ || !admitted_) return listener_->complete(std::move(done), std::nullopt);
    const bool v11 = nas_view_.profile == radius::Profile::radius_1_1;
    if (!v11 && outbound_.size() >= 256) return listener_->complete(std::move(done), std::nullopt);
    std::uint32_t id = next_id_;
    if (!v11) {  // the next free one after the last used: a late answer is unlikely to match a new request
      while (outbound_.count(id & 0xFF)) ++id;
      id &= 0xFF;
    }
    next_id_ = id + 1;
    request.target.secret = nas_view_.secret;
    request.target.profile = nas_view_.profile;
    auto out = std::make_shared<Outbound>(stream_.get_executor());
    try {
      out->wire = radius::encode_dynauth_request(request, id, ca::now_unix());
    } catch (const std::exception& e) {  // past 4096 octets: nothing can be sent
      spdlog::error("radsec: {} to NAS {} not sent: {}", radius::to_string(request.kind), nas_, e.what());
      return listener_->complete(std::move(done), radius::DynauthResult{});
    }
    out->request = std::move(request);
    out->done = std::move(done);
    out->sent = std::chrono::steady_clock::now();
    outbound_[id] = out;
    writes_.push_back(out->wire);
    if (writes_.size() == 1) write_next();
    out->timer.expires_after(timeout);
    out->timer.async_wait([self = shared_from_this(), id, out](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      const auto it = self->outbound_.find(id);
      if (it == self->outbound_.end() || it->second != out) return;
      self->outbound_.erase(it);
      self->finish_dynauth(*out, radius::DynauthOutcome::timeout, std::nullopt);
    });
  }

  void on_dynauth_answer(const radius::Bytes& packet) {
    const bool v11 = nas_view_.profile == radius::Profile::radius_1_1;
    const auto it = outbound_.find(v11 ? token_of(packet) : packet[1]);
    if (it == outbound_.end()) {
      spdlog::debug("radsec: NAS {} answered a Disconnect/CoA that is not in flight; ignored", nas_);
      return;
    }
    std::optional<std::uint32_t> cause;
    const auto check = radius::check_dynauth_response(packet, it->second->wire, nas_view_.secret,
                                                      it->second->request.kind, &cause, nas_view_.profile);
    const bool protocol_error = check == radius::ResponseCheck::protocol_error;
    if (check != radius::ResponseCheck::ack && check != radius::ResponseCheck::nak && !protocol_error) {
      spdlog::debug("radsec: NAS {}: Disconnect/CoA answer ignored: {}", nas_, radius::to_string(check));
      return;
    }
    const auto out = it->second;
    outbound_.erase(it);
    out->timer.cancel();
    // The NAS could not process it at all: a refusal as final as a NAK, ended now rather
    // than left to time out.
    if (protocol_error) log_protocol_error(packet, out->request.kind, cause);
    const auto outcome = check == radius::ResponseCheck::ack ? radius::DynauthOutcome::ack : radius::DynauthOutcome::nak;
    finish_dynauth(*out, outcome, cause, protocol_error);
  }

  void log_protocol_error(const radius::Bytes& packet, radius::DynauthKind kind,
                          std::optional<std::uint32_t> cause) const {
    std::string message;
    if (auto parsed = radius::parse(packet, nas_view_.profile))
      if (const radius::Attribute* reply = parsed->find(radius::attr::ReplyMessage))
        message = ca::log_safe(reply->value);
    spdlog::warn("radsec: NAS {} answered our {} with a Protocol-Error, Error-Cause {} ({}){}{}", nas_,
                 radius::to_string(kind), cause ? std::to_string(*cause) : "none",
                 cause ? radius::error_cause_name(*cause) : "-", message.empty() ? "" : ": ", message);
  }

  void finish_dynauth(Outbound& out, radius::DynauthOutcome outcome, std::optional<std::uint32_t> cause,
                      bool protocol_error = false) {
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - out.sent);
    listener_->complete(std::move(out.done), radius::DynauthResult{outcome, cause, 1, elapsed, protocol_error});
  }

  std::shared_ptr<RadsecListener> listener_;
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer timer_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  radius::IpAddress source_;
  std::uint16_t source_port_ = 0;
  std::string peer_text_, nas_;
  std::shared_ptr<const Clients> clients_;
  radius::radsec::PeerVerdict verdict_;
  radius::NasClient nas_view_;  // the client entry as this connection speaks to it (its profile); set before reading
  std::map<std::uint32_t, std::shared_ptr<Outbound>> outbound_;  // by Identifier or Token
  std::set<std::uint32_t> nas_tokens_;  // RADIUS/1.1: the Tokens of the NAS's requests not yet answered
  std::uint32_t next_id_ = 0;
  radius::radsec::StreamFramer framer_;
  std::array<std::uint8_t, 16384> buffer_{};  // one TLS record
  std::deque<radius::Bytes> writes_;
  std::size_t in_flight_ = 0;
  bool reading_ = false, admitted_ = false, closed_ = false;
};

std::shared_ptr<RadsecListener> RadsecListener::create(asio::io_context& io, RadsecOptions options,
                                                       const RadsecTlsFiles& tls,
                                                       std::shared_ptr<const Clients> clients,
                                                       const ca::IdentityView& identities, Handler handler) {
  std::shared_ptr<RadsecListener> self(
      new RadsecListener(io, std::move(options), std::move(clients), identities, std::move(handler)));
  self->tls_ = make_radsec_tls_context(tls.cert, tls.key, tls.chain, tls.client_ca_names, &RadsecListener::verify,
                                       self.get());
  SSL_CTX_set_alpn_select_cb(self->tls_->native_handle(), &RadsecListener::select_alpn, self.get());
  const tcp::endpoint endpoint(asio::ip::make_address(self->options_.bind), self->options_.port);
  self->acceptor_.open(endpoint.protocol());
  if (endpoint.address().is_v6()) self->acceptor_.set_option(asio::ip::v6_only(false));
  self->acceptor_.set_option(tcp::acceptor::reuse_address(true));
  self->acceptor_.bind(endpoint);
  self->acceptor_.listen();
  self->port_ = self->acceptor_.local_endpoint().port();
  return self;
}

RadsecListener::RadsecListener(asio::io_context& io, RadsecOptions options, std::shared_ptr<const Clients> clients,
                               const ca::IdentityView& identities, Handler handler)
    : io_(io),
      options_(std::move(options)),
      clients_(std::move(clients)),
      identities_(identities),
      handler_(std::move(handler)),
      acceptor_(io),
      handshake_seconds_(kHandshakeBuckets),
      refusal_events_(options_.events),
      refusal_sweep_(asio::make_strand(io)) {}

void RadsecListener::start() {
  accept();
  asio::post(refusal_sweep_.get_executor(), [self = shared_from_this()] { self->schedule_refusal_sweep(); });
}

// The counts of refusal windows that are over reach the events even when no refusal follows.
void RadsecListener::schedule_refusal_sweep() {
  refusal_sweep_.expires_after(std::chrono::seconds(10));
  refusal_sweep_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->refusal_events_.sweep(radius::SteadyClock::now());
    self->schedule_refusal_sweep();
  });
}

void RadsecListener::refused(radius::radsec::Refusal refusal) {
  {
    std::lock_guard lock(refused_mutex_);
    ++refused_by_reason_[refusal.reason];
  }
  refusal_events_.record(std::move(refusal), radius::SteadyClock::now());
}

void RadsecListener::stop() {
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (auto& [_, weak] : connections_)
      if (auto c = weak.lock()) open.push_back(std::move(c));
  }
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  // The timer is used only on its strand: cancel() there, not raced with its handler.
  asio::post(refusal_sweep_.get_executor(), [self = shared_from_this()] {
    self->refusal_sweep_.cancel();
    self->refusal_events_.sweep(radius::SteadyClock::now() + std::chrono::hours(1));
  });
  for (auto& c : open) c->close_from_outside("the service is stopping");
}

void RadsecListener::replace_clients(std::shared_ptr<const Clients> clients) { clients_.store(std::move(clients)); }

void RadsecListener::recheck() {
  std::lock_guard lock(mutex_);
  for (auto& [_, weak] : connections_)
    if (auto c = weak.lock()) c->close_if_no_longer_good();
}

std::size_t RadsecListener::open_connections() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

std::vector<std::pair<std::string, std::uint64_t>> RadsecListener::counters() const {
  return {{"radsec_open", open_connections()},
          {"radsec_accepted", counters_.accepted.load()},
          {"radsec_refused_tls", counters_.refused_tls.load()},
          {"radsec_refused_total_cap", counters_.refused_total_cap.load()},
          {"radsec_refused_nas_cap", counters_.refused_nas_cap.load()},
          {"radsec_closed_revoked", counters_.closed_revoked.load()},
          {"radsec_closed_idle", counters_.closed_idle.load()},
          {"radsec_bad_framing", counters_.bad_framing.load()}};
}

RadsecStats RadsecListener::stats() const {
  RadsecStats s;
  {
    std::lock_guard lock(mutex_);
    s.open = connections_.size();
    s.open_by_nas.insert(per_nas_.begin(), per_nas_.end());
  }
  {
    std::lock_guard lock(refused_mutex_);
    s.refused_by_reason = refused_by_reason_;
  }
  s.accepted = counters_.accepted.load();
  s.admitted_by_tls_version = {{"TLSv1.3", counters_.tls13.load()}, {"TLSv1.2", counters_.tls12.load()}};
  s.closed_idle = counters_.closed_idle.load();
  s.closed_revoked = counters_.closed_revoked.load();
  s.closed_bad_framing = counters_.bad_framing.load();
  s.requests = counters_.requests.load();
  s.replies = counters_.replies.load();
  s.handshake = handshake_seconds_.collect();
  return s;
}

int RadsecListener::select_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_length,
                                const unsigned char* in, unsigned int in_length, void* arg) {
  const auto* self = static_cast<const RadsecListener*>(arg);
  radius::ByteView selected;
  const auto choice = radius::radsec::choose_alpn(radius::ByteView(in, in_length), self->options_.versions,
                                                  SSL_version(ssl) >= TLS1_3_VERSION, &selected);
  switch (choice) {
    case radius::radsec::AlpnChoice::radius_1_0:
    case radius::radsec::AlpnChoice::radius_1_1:
      *out = selected.data();
      *out_length = static_cast<unsigned char>(selected.size());
      return SSL_TLSEXT_ERR_OK;
    case radius::radsec::AlpnChoice::none: return SSL_TLSEXT_ERR_NOACK;
    case radius::radsec::AlpnChoice::refuse: break;
  }
  // RFC 7301 §3.2: the no_application_protocol alert; OpenSSL sends it for this return.
  // RFC 9765 §3.3 asks for a log line naming the peer.
  const auto* connection = static_cast<const Connection*>(SSL_get_ex_data(ssl, connection_index()));
  spdlog::warn("radsec: connection from {} refused: its ALPN offer holds no RADIUS version this listener accepts "
               "(radius_versions; RADIUS/1.1 needs TLS 1.3; RFC 9765 §3.3)",
               connection ? connection->peer_text() : std::string("?"));
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

int RadsecListener::verify(X509_STORE_CTX* store, void* arg) {
  auto* self = static_cast<RadsecListener*>(arg);
  auto* ssl_handle = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* connection = ssl_handle ? static_cast<Connection*>(SSL_get_ex_data(ssl_handle, connection_index())) : nullptr;
  if (connection == nullptr) return 0;
  try {
    auto clients = self->clients_.load();
    auto verdict = clients->authorize(X509_STORE_CTX_get0_cert(store), X509_STORE_CTX_get0_untrusted(store),
                                      connection->source(), self->identities_, ca::now_unix());
    const bool ok = verdict.client != nullptr;
    const int error = verdict.verify_error;
    connection->set_peer(std::move(clients), std::move(verdict));
    X509_STORE_CTX_set_error(store, ok ? X509_V_OK : error);
    return ok ? 1 : 0;
  } catch (const std::exception& e) {
    // Exceptions must not cross OpenSSL's C frames.
    radius::radsec::PeerVerdict refused;
    refused.reason = std::string("certificate check failed: ") + e.what();
    connection->set_peer(nullptr, std::move(refused));
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
}

void RadsecListener::accept() {
  acceptor_.async_accept(asio::make_strand(io_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                             tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (!ec) {
      std::shared_ptr<Connection> connection;
      std::optional<radius::radsec::Refusal> refusal;
      {
        std::lock_guard lock(self->mutex_);
        if (self->stopped_) return;
        if (self->connections_.size() >= self->options_.max_connections) {
          ++self->counters_.refused_total_cap;
          spdlog::warn("radsec: connection refused: {} open, the cap", self->connections_.size());
          boost::system::error_code peer_ec;
          const tcp::endpoint peer = socket.remote_endpoint(peer_ec);
          refusal.emplace(radius::radsec::Refusal{
              to_ip(peer.address()), "total_cap",
              std::to_string(self->connections_.size()) + " connections open, the cap (max_connections)",
              {}, {}, {}, {}, {}});
        } else {
          ++self->counters_.accepted;
          connection = std::make_shared<Connection>(self, std::move(socket), *self->tls_);
          self->connections_.emplace(connection.get(), connection);
        }
      }
      if (connection) connection->start();
      if (refusal) self->refused(std::move(*refusal));  // after the registry's lock: the sink may take its own
    }
    self->accept();
  });
}

std::map<std::string, std::size_t> RadsecListener::connections_by_nas() const {
  std::lock_guard lock(mutex_);
  return per_nas_;
}

bool RadsecListener::admit(Connection* connection, const std::string& nas) {
  std::lock_guard lock(mutex_);
  if (!connections_.count(connection)) return false;
  std::size_t& n = per_nas_[nas];
  if (n >= options_.max_connections_per_nas) return false;
  ++n;
  admitted_[connection] = Admitted{nas, ++admissions_};
  return true;
}

std::optional<RadsecDynauthTarget> RadsecListener::radsec_client(const std::string& nas) const {
  const auto clients = clients_.load();
  const radius::radsec::RadsecClient* client = clients->by_nas(nas);
  if (client == nullptr) return std::nullopt;
  RadsecDynauthTarget target{client->nas, client->dynauth_over_connection};
  target.udp.secret = client->coa_secret;
  return target;
}

bool RadsecListener::send_dynauth(const std::string& nas, radius::DynauthRequest request,
                                  std::chrono::milliseconds timeout, Done done) {
  std::shared_ptr<Connection> newest;
  {
    std::lock_guard lock(mutex_);
    std::uint64_t order = 0;
    for (const auto& [connection, admitted] : admitted_) {
      if (admitted.nas != nas || admitted.order < order) continue;
      const auto it = connections_.find(connection);
      if (it == connections_.end()) continue;
      if (auto c = it->second.lock()) {
        newest = std::move(c);
        order = admitted.order;
      }
    }
  }
  if (!newest) return false;
  newest->send_dynauth(std::move(request), timeout, std::move(done));
  return true;
}

void RadsecListener::complete(Done done, std::optional<radius::DynauthResult> result) {
  asio::post(io_, [done = std::move(done), result] { done(result); });
}

void RadsecListener::forget(Connection* connection, const std::string& nas) {
  std::lock_guard lock(mutex_);
  connections_.erase(connection);
  admitted_.erase(connection);
  if (nas.empty()) return;
  const auto it = per_nas_.find(nas);
  if (it != per_nas_.end() && --it->second == 0) per_nas_.erase(it);
}

}  // namespace portcullis::app
