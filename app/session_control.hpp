// Instant revocation at the network edge (docs/architecture.md, "One revocation"): when a
// certificate is revoked, a device disabled, or a certificate expires during a session,
// every live session it holds gets an RFC 5176 Disconnect-Request (or, for a disabled
// device whose accepting rule says on_disable = "coa", a CoA-Request with the rule's
// coa_reply) at its NAS's coa_port, through radius::DynauthClient.
//
// - The registry observers (revocation, device change) run inside the admin call, after
//   ledger and index are updated: they only look the sessions up in memory and queue the
//   requests; the sends, retries and answers happen on the io_context.
// - Live sessions: the accounting table (Acct-Session-Id known), plus Accepts that no
//   accounting has claimed yet (Calling-Station-Id / User-Name identify those).
// - Outcomes are logged, marked on the live session, and written to the ledger's
//   radius_sessions in batches (one transaction per batch, not one fsync per answer).
// - Expiry: a timer scans the live sessions every `expiry_check` and disconnects those
//   whose certificate's notAfter has passed (the Accept's Session-Timeout already ends
//   them at notAfter; this catches NASes that ignore Session-Timeout). The same sweep
//   catches sessions of revoked certificates / disabled devices that the observers could
//   not see (accounting that arrived after the change).
// - Several nodes on one ledger: the observers also run for changes other nodes committed
//   (ca/ledger/change_follower.hpp), so the node holding a session in memory (the one its
//   NAS sends accounting to) acts on it. Two nodes may both hold it (accounting failed
//   over, a restart reloaded it): before a request for an accounted session is sent it is
//   claimed in the ledger for its cause (RadiusSessionStore::claim_radius_sessions), and
//   only the node whose claim lands sends it. A session known from its Accept alone lives
//   on the node that sent the Accept, and nowhere else.
#pragma once

#include "app/radsec/dynauth_channel.hpp"
#include "ca/event.hpp"
#include "ca/identity_index.hpp"
#include "ca/ledger/ledger.hpp"
#include "radius/dynauth_client.hpp"
#include "radius/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace portcullis::app {

struct SessionControlOptions {
  radius::DynauthClientOptions client;
  std::chrono::seconds expiry_check{30};
  // The NAS client (secret, coa_port) whose prefix holds an address, from the running NAS
  // table (a copy: the table may be swapped by a reload meanwhile); nullopt when none.
  std::function<std::optional<radius::NasClient>(const radius::IpAddress&)> find_nas;
  // Decision events (kind "dynauth"): each request sent and its answer. Null: none.
  ca::EventSink* events = nullptr;
};

class SessionControl : public std::enable_shared_from_this<SessionControl> {
 public:
  // `server`, `ledger`, `index` must outlive it.
  static std::shared_ptr<SessionControl> create(boost::asio::io_context& io, radius::Server& server,
                                                ca::Ledger& ledger, const ca::IdentityIndex& index,
                                                SessionControlOptions options);

  void start();  // arms the expiry timer
  void stop();   // cancels it and the client; answers still in flight are not waited for

  // Registry observers. Never throw (the revocation is committed already): failures are logged.
  // On a shared ledger a node may hear of its own change twice (its registry, and its
  // change follower when that read the change before the registry updated the index): a
  // cause already acted on in the last minute is not acted on again.
  void on_revoked(const std::vector<ca::CertificateRecord>& revoked);
  void on_device_change(const ca::Device& device);
  // One scan of the live sessions (the timer calls it every `expiry_check`): sessions whose
  // certificate expired get a Disconnect; sessions of a revoked certificate or disabled
  // device that nothing was sent for yet (their accounting came after the change) get what
  // the observer would have sent. Each session at most once per node, and once across the
  // nodes of a shared ledger (the claim, made on the RADIUS server's ledger writer, which
  // then sends what it won). Returns how many were queued for that.
  std::size_t sweep();
  // An operator's Disconnect-Request (RFC 5176 §3.1) for the live session `row` (from the
  // ledger; the in-memory one when known, with its freshest NAS identification). The
  // outcome is marked on the session like any other. False when stopped.
  bool disconnect(const ca::RadiusSessionRow& row, const std::string& why);

  radius::DynauthClientStats stats() const { return client_->stats(); }

  // RadSec NASes: their sessions' requests go down the NAS's own connection while one is up
  // (then to its UDP coa_port when its entry names a coa_secret), or with the entry's
  // dynauth_over_connection false straight to that UDP port. Until set, or once the
  // channel is gone, every NAS is looked up by address as a UDP client.
  void use_radsec(std::weak_ptr<DynauthChannel> channel);

 private:
  // One session to act on: from accounting (acct_session_id set) or from an Accept alone.
  struct Target {
    radius::LiveSession session;
    std::optional<radius::AcceptRecord> accept;  // set for an Accept not yet claimed by accounting
  };
  SessionControl(boost::asio::io_context& io, radius::Server& server, ca::Ledger& ledger,
                 const ca::IdentityIndex& index, SessionControlOptions options);
  std::vector<Target> targets_of(const std::string& serial, ca::UnixTime now) const;
  static Target target_of(radius::AcceptRecord accept);
  static std::string accept_key(const radius::AcceptRecord& accept);
  // One request to send, the cause it is claimed for (ca/ledger/radius_sessions.hpp).
  struct Action {
    Target target;
    radius::DynauthKind kind;
    std::string why;
    const char* claim;
  };
  // Claims the accounted sessions among `actions` in one ledger transaction and sends the
  // requests this node won (and those for Accept-only sessions). Returns how many it sent.
  std::size_t claim_and_send(std::vector<Action> actions);
  void send(const Target& target, radius::DynauthKind kind, const std::string& why);
  static radius::DynauthRequest request_for(const Target& target, radius::DynauthKind kind,
                                            const radius::NasClient& nas);
  // Marks the session as having a request in flight and emits "sent" (to: where, for the event).
  void in_flight(const Target& target, radius::DynauthKind kind, const std::string& why, const std::string& to);
  void send_udp(const Target& target, radius::DynauthRequest request, const std::string& why);
  void send_radsec(const Target& target, radius::DynauthRequest request, const std::string& why,
                   DynauthChannel& radsec);
  void radsec_down(const Target& target, radius::DynauthRequest request, const std::string& why,
                   const std::string& cause, const char* reason);
  std::chrono::milliseconds radsec_timeout() const;
  // A decision event of kind "dynauth" about session `s`, sent to `nas_ip`.
  void emit(const radius::LiveSession& s, const std::string& nas_ip, std::string outcome, std::string reason,
            std::string detail);
  void completed(const Target& target, const radius::DynauthRequest& request, const radius::DynauthResult& result,
                 const std::string& why);
  void schedule_expiry_check();
  void queue_mark(ca::RadiusSessionMark mark);
  void flush_marks();

  boost::asio::io_context& io_;
  radius::Server& server_;
  ca::Ledger& ledger_;
  const ca::IdentityIndex& index_;
  SessionControlOptions options_;
  std::shared_ptr<radius::DynauthClient> client_;
  boost::asio::steady_timer expiry_timer_;        // on its own strand
  std::atomic<bool> stopped_{false};
  boost::asio::steady_timer flush_timer_;

  std::mutex mutex_;
  std::vector<ca::RadiusSessionMark> marks_;      // guarded by mutex_
  bool flush_scheduled_ = false;                  // guarded by mutex_
  std::set<std::string> swept_;                   // guarded by mutex_: sessions the sweep already sent for
  std::weak_ptr<DynauthChannel> radsec_;          // guarded by mutex_
  // Guarded by mutex_: causes acted on lately ("revoked:SERIAL", "disabled:ID"), with when.
  std::map<std::string, std::chrono::steady_clock::time_point> recent_causes_;
  // True the first time `cause` is seen within a minute (then remembered); prunes older ones.
  bool first_time(const std::string& cause);
  void forget_cause(const std::string& cause);
};

}  // namespace portcullis::app
