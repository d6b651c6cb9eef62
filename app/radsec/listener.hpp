// The RadSec listener (RADIUS over TLS, RFC 6614): TCP + TLS with mutual authentication,
// RADIUS packets framed by their Length field, each handed to the same handler as a UDP
// datagram (radius::Server::handle, with the NAS the certificate named) and its reply
// written back on the same connection. Many requests may be in flight on one connection
// (RFC 6614 §2.5); replies go out as they are ready, in any order.
//
// Threading: each connection's socket, timer and write queue live on its own strand; the
// handler runs on any io thread (an EAP-TLS step is CPU work), and its reply is posted back
// to the strand. The registry of open connections (caps, revocation) has its own mutex;
// the timer that reports counted refusals (RefusalEvents::sweep) has its own strand.
//
// RADIUS/1.1 (RFC 9765): the ALPN callback picks "radius/1.1" or "radius/1.0" from the
// client's offer (radius/radsec/alpn.hpp); a connection then speaks the profile it
// negotiated. Disconnect/CoA go down the NAS's own connection (DynauthChannel).
#pragma once

#include "app/admin/metric_instruments.hpp"
#include "app/admin/radsec_stats.hpp"
#include "app/radsec/dynauth_channel.hpp"
#include "ca/identity_index.hpp"
#include "radius/radsec/alpn.hpp"
#include "radius/radsec/peer_auth.hpp"
#include "radius/radsec/refusal_events.hpp"
#include "radius/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace portcullis::app {

struct RadsecOptions {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 2083;                      // RFC 6614 §2.1
  std::size_t max_connections = 1000;             // in all, handshakes included
  std::size_t max_connections_per_nas = 8;        // per RadSec client entry
  std::chrono::seconds idle_timeout{600};         // no packet in, no reply out this long: closed (RFC 6614 §2.6)
  std::chrono::seconds handshake_timeout{10};
  std::size_t max_in_flight = 256;                // per connection, replies not yet written included
  ca::EventSink* events = nullptr;                // refused connections (kind radsec); null: none
  radius::radsec::RadiusVersions versions;        // RFC 9765 §3.3, negotiated by ALPN
};

// The server certificate and the CAs named to clients.
struct RadsecTlsFiles {
  std::string cert, key, chain;
  std::vector<const X509*> client_ca_names;       // must outlive the listener's start-up
};

class RadsecListener : public std::enable_shared_from_this<RadsecListener>, public DynauthChannel {
 public:
  using Handler = std::function<std::optional<radius::Bytes>(const radius::Datagram&, const radius::NasClient&)>;
  using Clients = radius::radsec::RadsecClients;

  // Binds at once (boost::system::system_error on failure); the TLS files are read here
  // (std::runtime_error naming the file). `identities` must outlive the listener.
  static std::shared_ptr<RadsecListener> create(boost::asio::io_context& io, RadsecOptions options,
                                                const RadsecTlsFiles& tls, std::shared_ptr<const Clients> clients,
                                                const ca::IdentityView& identities, Handler handler);

  void start();
  void stop();  // stops accepting and closes every connection
  std::uint16_t port() const { return port_; }

  // SIGHUP: new connections are checked against `clients`; open ones keep the entry they
  // were admitted with until they close.
  void replace_clients(std::shared_ptr<const Clients> clients);
  // The ledger changed (a revocation, a device disabled): every connection whose NAS
  // certificate is no longer good is closed. Thread-safe; returns at once.
  void recheck();

  // DynauthChannel: Disconnect/CoA over the NAS's own connection. Thread-safe.
  std::optional<RadsecDynauthTarget> radsec_client(const std::string& nas) const override;
  bool send_dynauth(const std::string& nas, radius::DynauthRequest request, std::chrono::milliseconds timeout,
                    Done done) override;

  std::size_t open_connections() const;
  // radsec_accepted, radsec_refused_tls, radsec_refused_total_cap, radsec_refused_nas_cap,
  // radsec_closed_revoked, radsec_closed_idle, radsec_bad_framing.
  std::vector<std::pair<std::string, std::uint64_t>> counters() const;
  RadsecStats stats() const;
  // Open (admitted) connections by NAS name, for `nas list`.
  std::map<std::string, std::size_t> connections_by_nas() const;

 private:
  class Connection;
  struct Counters {
    std::atomic<std::uint64_t> accepted{0}, refused_tls{0}, refused_total_cap{0}, refused_nas_cap{0},
        closed_revoked{0}, closed_idle{0}, bad_framing{0}, requests{0}, replies{0}, tls13{0}, tls12{0};
  };

  RadsecListener(boost::asio::io_context& io, RadsecOptions options, std::shared_ptr<const Clients> clients,
                 const ca::IdentityView& identities, Handler handler);
  // SSL_CTX_set_cert_verify_callback: which NAS the certificate names (peer_auth.hpp).
  static int verify(X509_STORE_CTX* store, void* arg);
  // SSL_CTX_set_alpn_select_cb: RFC 9765 §3.3 (radius/radsec/alpn.hpp).
  static int select_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                         unsigned int in_length, void* arg);
  void accept();
  bool admit(Connection* connection, const std::string& nas);  // per-NAS cap, after the handshake
  void forget(Connection* connection, const std::string& admitted_nas);
  // A connection refused: counted by reason and recorded as a (rate-limited) event.
  void refused(radius::radsec::Refusal refusal);
  void schedule_refusal_sweep();
  void complete(Done done, std::optional<radius::DynauthResult> result);  // runs `done` on the io_context

  boost::asio::io_context& io_;
  RadsecOptions options_;
  std::atomic<std::shared_ptr<const Clients>> clients_;
  const ca::IdentityView& identities_;
  Handler handler_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  Counters counters_;
  AtomicHistogram handshake_seconds_;
  radius::radsec::RefusalEvents refusal_events_;
  boost::asio::steady_timer refusal_sweep_;
  mutable std::mutex refused_mutex_;
  std::map<std::string, std::uint64_t> refused_by_reason_;  // guarded by refused_mutex_; a fixed vocabulary

  struct Admitted {
    std::string nas;
    std::uint64_t order = 0;  // the most recent connection of a NAS carries its Disconnect/CoA
  };
  mutable std::mutex mutex_;  // guards the five below
  std::map<Connection*, std::weak_ptr<Connection>> connections_;
  std::map<std::string, std::size_t> per_nas_;
  std::map<Connection*, Admitted> admitted_;
  std::uint64_t admissions_ = 0;
  bool stopped_ = false;
};

}  // namespace portcullis::app
