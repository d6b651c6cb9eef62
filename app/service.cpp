#include "app/service.hpp"

#include "app/admin/api.hpp"
#include "app/admin/metric_instruments.hpp"
#include "app/admin/metrics.hpp"
#include "app/console/console.hpp"
#include "app/config.hpp"
#include "app/ledger_health.hpp"
#include "app/node_heartbeat.hpp"
#include "app/ledger_open.hpp"
#include "ca/ledger/change_follower.hpp"
#include "app/listeners.hpp"
#include "app/io_runner.hpp"
#include "app/notify/notifier.hpp"
#include "app/logging.hpp"
#include "app/mdm/sources.hpp"
#include "app/policy_control.hpp"
#include "app/http/public_routes.hpp"
#include "app/session_control.hpp"
#include "app/radsec/setup.hpp"
#include "app/http/tls_context.hpp"
#include "ca/authority.hpp"
#include "ca/crl.hpp"
#include "ca/identity_index.hpp"
#include "ca/issuer.hpp"
#include "ca/ledger/event_writer.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/ocsp.hpp"
#include "ca/registry.hpp"
#include "radius/accounting.hpp"
#include "radius/clients.hpp"
#include "radius/eap/tls_engine.hpp"
#include "radius/server.hpp"
#include "radius/udp_listener.hpp"
#include "scep/enrollment.hpp"
#include "scep/http_routes.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace portcullis::app {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;


std::vector<AdminToken> admin_tokens(const Config& config) {
  std::vector<AdminToken> tokens;
  for (const auto& t : config.admin.tokens) tokens.push_back(AdminToken{t.name, t.sha256});
  return tokens;
}

// The NAS table a config describes. Throws std::invalid_argument for a bad address or a
// duplicate prefix, before anything is applied.
std::shared_ptr<const radius::NasTable> make_nas_table(const Config& config, radius::NasActivities& activities) {
  auto table = std::make_shared<radius::NasTable>();
  for (const auto& client : config.radius.clients) {
    if (client.transport == "radsec") continue;  // named by certificate: app/radsec/setup.hpp
    radius::NasClient nas;
    nas.name = client.name;
    nas.secret = client.secret;
    nas.require_message_authenticator = client.require_message_authenticator;
    nas.coa_port = client.coa_port;
    nas.groups = client.groups;
    nas.activity = activities.for_name(client.name);
    table->add(std::move(nas), client.address);
  }
  return table;
}

ca::EventWriterSettings event_settings(const EventSettings& config) {
  ca::EventWriterSettings settings;
  settings.keep_days = config.keep_days;
  settings.max_rows = static_cast<std::size_t>(config.max_rows);
  settings.capacity = static_cast<std::size_t>(config.queue);
  return settings;
}

long elapsed_ms(Clock::time_point since) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
}

// Bounds the shutdown on its own thread: a timer on `io` would itself keep io.run() busy
// for the whole deadline even when everything drained at once. In-flight requests normally
// finish well within it; a stuck peer must not keep the process alive forever.
class ShutdownDeadline {
 public:
  ShutdownDeadline() = default;
  ShutdownDeadline(const ShutdownDeadline&) = delete;
  ShutdownDeadline& operator=(const ShutdownDeadline&) = delete;
  ~ShutdownDeadline() { drained(); }

  // Stops `io` after `limit` unless drained() comes first.
  void start(asio::io_context& io, std::chrono::seconds limit) {
    thread_ = std::thread([this, &io, limit] {
      std::unique_lock lock(mutex_);
      if (!drained_cv_.wait_for(lock, limit, [this] { return drained_; })) {
        spdlog::warn("shutdown deadline reached; stopping with connections still open");
        io.stop();
      }
    });
  }

  void drained() {
    {
      std::lock_guard lock(mutex_);
      drained_ = true;
    }
    drained_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable drained_cv_;
  bool drained_ = false;
  std::thread thread_;
};

// Everything `serve` owns, in construction order (destroyed in reverse: listeners first,
// the ledger last, so in-flight work always has its ledger).
class Service {
 public:
  explicit Service(const std::string& config_path)
      : config_path_(config_path), config_(load_config(config_path)) {
    setup_logging(config_.service);
    const ca::CaPaths paths{config_.ca.dir};
    if (ca::ca_is_pending(paths))
      throw std::runtime_error("the issuing CA is waiting for its certificate: have your root sign " +
                               paths.issuing_csr() + ", then run `portcullis ca install-cert`");
    authority_ = std::make_unique<ca::Authority>(ca::Authority::load(paths));
    ledger_ = open_ledger(config_.ledger, &metric_instruments_);
    events_ = std::make_unique<ca::EventWriter>(*ledger_, event_settings(config_.events));

    const auto t0 = Clock::now();
    // A shared ledger: note where its change sequence stands before loading, so that what
    // other nodes commit meanwhile is applied after the load rather than missed (the
    // follower starts a margin below it: a lower number may still be committing).
    ca::ChangeFeed* feed = ledger_->change_feed();
    changes_from_ = feed != nullptr ? feed->last_change() : 0;
    index_.load(*ledger_);
    const ca::IndexStats stats = index_.stats();
    spdlog::info("identity index loaded: {} certificates, {} devices in {} ms", stats.certificates, stats.devices,
                 elapsed_ms(t0));

    registry_ = std::make_unique<ca::Registry>(*ledger_, index_);
    const ca::IssuerUrls urls{config_.http.public_url + "/crl", config_.http.public_url + "/ocsp"};
    issuer_ = std::make_unique<ca::Issuer>(*authority_, config_.profiles, urls, *registry_);
    crl_ = std::make_unique<ca::CrlPublisher>(
        *authority_, *ledger_, ca::CrlSettings{config_.ca.crl_validity_hours, config_.ca.crl_refresh_before_hours});
    crl_->regenerate(ca::now_unix());
    resign_crl_on_revocation();
    ocsp_ = std::make_unique<ca::OcspResponder>(*authority_, index_, config_.ca.ocsp_validity_hours);
    public_routes_ = std::make_unique<PublicRoutes>(*crl_, *ocsp_);
    // SCEP (RFC 8894 §4.1): /scep and every path below it on the public listener.
    if (config_.scep.enabled) mount_scep();
    // RADIUS: one TLS configuration shared by every EAP-TLS conversation, fixed
    // for the life of the process, and the NAS table, swapped whole on SIGHUP.
    // Access policy: a refused policy file stops the start-up with its file:line.
    policy_ = make_policy_engine();
    reload_policy(*policy_, config_.policy.file, "start-up");
    radius_ = std::make_unique<radius::Server>(make_nas_table(config_, nas_activities_), make_eap_tls_config(), *ledger_,
                                               radius_options());
    metrics_scrape_ = std::make_unique<MetricsScrape>(metric_sources());
    admin_api_.store(make_admin_api(config_));
    // Live sessions survive a restart (radius_sessions, schema v5): a revocation right after
    // start-up still reaches sessions that began before it.
    const std::size_t live = radius::reload_live_sessions(*ledger_, radius_->live_sessions());
    if (live > 0) spdlog::info("radius: {} live session(s) reloaded from the ledger", live);
  }

  int run() {
    const unsigned threads = config_.service.threads ? config_.service.threads
                                                     : std::max(1u, std::thread::hardware_concurrency());
    asio::io_context io(static_cast<int>(threads));
    // HTTP handlers block on the ledger's WAL sync and on signing; they run on worker
    // pools (one per listener), so that RADIUS on `io` never waits behind them.
    const std::shared_ptr<asio::ssl::context> admin_tls = admin_tls_context();
    HttpListeners http(
        io, config_, threads, admin_tls, [this](const HttpRequest& r) { return public_routes_->handle(r); },
        [this](const HttpRequest& r) { return console_->serve(r, *admin_api_.load()); }, handler_exceptions_);
    http_listeners_ = &http;
    start_session_control(io);
    follow_other_nodes();
    start_heartbeat();
    radsec_ = start_radsec_listener(io, config_, *authority_, index_, *registry_, *radius_, event_sink(),
                                    &nas_activities_);
    if (radsec_) session_control_->use_radsec(radsec_);  // Disconnect/CoA down a RadSec NAS's connection
    const std::unique_ptr<Notifier> notifier = make_notifier();  // stopped (joined) when run() returns
    http.start();
    const RadiusListeners radius = start_radius_listeners(io);
    asio::steady_timer crl_timer(io);
    schedule_crl_refresh(crl_timer);
    asio::steady_timer sweep_timer(io);
    schedule_radius_sweep(sweep_timer);

    asio::signal_set stop_signals(io, SIGINT, SIGTERM);
    asio::signal_set reload_signal(io, SIGHUP);
    ShutdownDeadline deadline;
    stop_signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      spdlog::info("signal {}: shutting down, letting in-flight requests finish", signo);
      http.stop();
      radius.auth->stop();
      radius.acct->stop();
      if (radsec_) radsec_->stop();
      crl_timer.cancel();
      sweep_timer.cancel();
      reload_signal.cancel();
      session_control_->stop();
      deadline.start(io, std::chrono::seconds(10));
    });
    wait_for_reload(reload_signal);
    log_ready(http, radius, admin_tls != nullptr, threads);

    run_io_threads(io, threads);
    http.join_workers();  // empty unless the shutdown deadline stopped `io` under a running handler
    http_listeners_ = nullptr;
    // The threads that reach session control through the registry's observers stop
    // before it goes: its requests would be posted to `io`, which goes with this call.
    // Health reads the follower, so it goes first, after the heartbeat that reads health
    // (its last beat says "stopped").
    intune_sync_.reset();
    heartbeat_.reset();
    ledger_health_.reset();
    follower_.reset();
    session_control_.reset();  // its timers and sockets belong to `io`
    radsec_.reset();
    radius_->ledger_writer().flush();  // accounting rows answered but not yet written
    deadline.drained();
    spdlog::info("portcullis stopped cleanly");
    return 0;
  }

 private:
  // A shared ledger: what other nodes commit reaches the index, and a revocation or a
  // disable the same observers as this node's own (registered by now: the follower's
  // thread must not race their registration), so the node holding a session sends its
  // Disconnect and re-signs its CRL.
  void follow_other_nodes() {
    ca::ChangeFeed* feed = ledger_->change_feed();
    if (feed == nullptr) return;
    FollowedChanges observers;
    observers.revoked = [this](const std::vector<ca::CertificateRecord>& r) { registry_->followed_revocations(r); };
    observers.device = [this](const ca::Device& d) { registry_->followed_device_change(d); };
    follower_ = follow_ledger(*ledger_, *feed, index_, changes_from_, std::move(observers));
    ledger_health_ = std::make_unique<LedgerHealth>(follower_.get());
  }

  // This node's row in the ledger's nodes table, for every node's console and API.
  void start_heartbeat() {
    ca::NodeBeat self;
    self.name = config_.service.node_name;
    self.version = PORTCULLIS_VERSION;
    self.started_at = started_at_;
    self.interval_seconds = config_.service.heartbeat_seconds;
    heartbeat_ = std::make_unique<NodeHeartbeat>(*ledger_, std::move(self), [this] { return node_health(); });
  }

  // Degraded while this node cannot follow a shared ledger (its index misses what the
  // others commit), or for kEventLossShown after it last lost decision events (its counts
  // and `why` miss some): long enough to be seen, short enough that one refused batch in a
  // database restart does not mark the node for the rest of its life.
  ca::NodeHealth node_health() const {
    static constexpr auto kEventLossShown = std::chrono::minutes(10);
    const auto now = Clock::now();
    if (ledger_health_) {
      const LedgerFollowState s = ledger_health_->state(now);
      if (s.degraded) return {"degraded", s.reason};
    }
    const ca::EventWriterCounters events = events_->counters();
    std::lock_guard lock(event_loss_mutex_);
    if (events.dropped + events.store_errors > events_lost_seen_) {
      events_lost_seen_ = events.dropped + events.store_errors;
      events_lost_at_ = now;
    }
    if (events_lost_seen_ > 0 && now - events_lost_at_ < kEventLossShown) {
      return {"degraded", "decision events lost in the last 10 minutes (since start: " +
                              std::to_string(events.dropped) + " dropped from a full queue, " +
                              std::to_string(events.store_errors) + " batch(es) the ledger refused)"};
    }
    return {};
  }

  // The CRL is re-signed as part of the revoke call, so relying parties that fetch it see
  // the revocation at once. The revocation itself is already committed when observers run,
  // so a signing failure here is logged (the previous CRL stays published until the
  // refresh timer retries) rather than turned into a failed revoke.
  void resign_crl_on_revocation() {
    registry_->on_revocation([this](const std::vector<ca::CertificateRecord>& revoked) {
      try {
        crl_->regenerate(ca::now_unix());
        spdlog::info("CRL #{} published after revoking {} certificate(s)", crl_->current()->number, revoked.size());
      } catch (const std::exception& e) {
        spdlog::error("CRL not re-signed after revoking {} certificate(s): {}", revoked.size(), e.what());
      }
    });
  }

  void mount_scep() {
    scep::EnrollmentSettings scep_settings{config_.scep.profile, config_.scep.static_challenge,
                                           config_.scep.allow_legacy_crypto, {}, nullptr,
                                           challenge_sources(config_)};
    scep_settings.refusals.rows_per_source_per_minute =
        static_cast<std::size_t>(config_.scep.refusal_rows_per_source_per_minute);
    scep_settings.refusals.max_rows = static_cast<std::size_t>(config_.scep.refusal_rows_max);
    scep_settings.events = event_sink();
    scep_enrollment_ = std::make_unique<scep::Enrollment>(*authority_, *issuer_, *registry_, scep_settings, crl_.get());
    scep_routes_ = std::make_unique<scep::HttpRoutes>(*scep_enrollment_, *authority_);
    // Before /scep, which would take every path below it.
    intune_sync_ = intune_revocation_sync(config_, *registry_, event_sink());
    if ((jamf_ = jamf_endpoint(config_, *registry_)))
      public_routes_->mount(kJamfChallengePath, [this](const HttpRequest& r) { return jamf_->handle(r); });
    public_routes_->mount("/scep", scep_handler(*scep_routes_));
    load_staged_rollover("start-up");
  }

  // Abandoned EAP conversations and the per-minute NAS drop counts become events within
  // a second or two, not at the next request.
  void schedule_radius_sweep(asio::steady_timer& timer) {
    timer.expires_after(std::chrono::seconds(1));
    timer.async_wait([this, &timer](const boost::system::error_code& ec) {
      if (ec) return;
      radius_->sweep();
      if (ledger_health_) ledger_health_->observe(Clock::now());
      schedule_radius_sweep(timer);
    });
  }

  // Where emitters put events; none with `[events] enabled = false` (the writer still
  // serves the events already stored and applies the retention).
  ca::EventSink* event_sink() const { return config_.events.enabled ? events_.get() : nullptr; }

  radius::ServerOptions radius_options() {
    radius::ServerOptions options;
    options.policy = policy_.get();
    options.max_eap_sessions_per_nas = static_cast<std::size_t>(config_.radius.max_eap_sessions_per_nas);
    options.eap_memory_budget = static_cast<std::size_t>(config_.radius.eap_memory_budget_mib) << 20;
    options.live_sessions.max_sessions = static_cast<std::size_t>(config_.radius.max_live_sessions);
    options.live_sessions.stale_intervals = static_cast<std::uint32_t>(config_.radius.acct_stale_intervals);
    options.live_sessions.default_interim = static_cast<std::uint32_t>(config_.radius.acct_default_interim_seconds);
    options.retention.stopped_seconds = static_cast<ca::UnixTime>(config_.radius.session_retention_days) * 86400;
    options.retention.max_rows = static_cast<std::size_t>(config_.radius.max_session_rows);
    options.ledger_queue = static_cast<std::size_t>(config_.radius.ledger_queue);
    options.eap_idle_timeout = std::chrono::seconds(config_.radius.eap_timeout_seconds);
    options.events = event_sink();
    options.decisions = &metric_instruments_;
    return options;
  }

  struct RadiusListeners {
    std::shared_ptr<radius::UdpListener> auth, acct;
  };

  std::shared_ptr<asio::ssl::context> admin_tls_context() const {
    if (!config_.admin_tls_effective()) return nullptr;
    const ca::CaPaths& paths = authority_->paths();
    return make_server_tls_context(paths.admin(), paths.admin_key(), paths.chain());
  }

  // RFC 5176: revocations, disabled devices and expiring certificates end the
  // live sessions at their NAS. Called before any listener takes a request.
  void start_session_control(asio::io_context& io) {
    SessionControlOptions dynauth;
    dynauth.client.attempts = config_.radius.dynauth_attempts;
    dynauth.client.initial_timeout = std::chrono::milliseconds(config_.radius.dynauth_timeout_ms);
    dynauth.client.max_timeout = std::chrono::milliseconds(config_.radius.dynauth_max_timeout_ms);
    dynauth.expiry_check = std::chrono::seconds(config_.radius.expiry_check_seconds);
    dynauth.find_nas = [this](const radius::IpAddress& address) -> std::optional<radius::NasClient> {
      const auto table = radius_->nas_table();
      const radius::NasClient* nas = table->find(address);
      return nas ? std::optional<radius::NasClient>(*nas) : std::nullopt;
    };
    dynauth.events = event_sink();
    session_control_ = SessionControl::create(io, *radius_, *ledger_, index_, dynauth);
    // Weak: the observers outlive run()'s io_context, the session control must not. First:
    // the Disconnect-Requests are queued before the CRL is re-signed.
    registry_->on_revocation(
        [weak = std::weak_ptr(session_control_)](const std::vector<ca::CertificateRecord>& revoked) {
          if (auto sc = weak.lock()) sc->on_revoked(revoked);
        },
        /*first=*/true);
    registry_->on_device_change([weak = std::weak_ptr(session_control_)](const ca::Device& device) {
      if (auto sc = weak.lock()) sc->on_device_change(device);
    });
    session_control_->start();
  }

  RadiusListeners start_radius_listeners(asio::io_context& io) {
    auto* send_failures = radius_->send_failure_counter();
    const auto handler = [this](const radius::Datagram& d) { return radius_->handle(d); };
    RadiusListeners out{radius::UdpListener::create(io, config_.radius.bind, config_.radius.auth_port,
                                                    radius::SocketKind::auth, handler, send_failures),
                        radius::UdpListener::create(io, config_.radius.bind, config_.radius.acct_port,
                                                    radius::SocketKind::acct, handler, send_failures)};
    out.auth->start();
    out.acct->start();
    return out;
  }

  void log_ready(HttpListeners& http, const RadiusListeners& radius, bool admin_tls, unsigned threads) const {
    spdlog::info("portcullis ready: public http {}:{}, admin {} {}:{}, radius auth {}:{} acct {}:{} ({} NAS entries), "
                 "{} I/O threads, {}+{} HTTP workers (public+admin)",
                 config_.http.bind, http.public_server().port(), admin_tls ? "https" : "http", config_.admin.bind,
                 http.admin_server().port(), config_.radius.bind, radius.auth->port(), config_.radius.bind,
                 radius.acct->port(), radius_->nas_table()->size(), threads, http.public_workers(),
                 http.admin_workers());
  }

  // `threads` threads run `io` (this one among them) until it has no more work.
  void run_io_threads(asio::io_context& io, unsigned threads) {
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { run_resilient(io, handler_exceptions_, "I/O"); });
    run_resilient(io, handler_exceptions_, "I/O");
    for (auto& t : pool) t.join();
  }

  void schedule_crl_refresh(asio::steady_timer& timer) {
    timer.expires_after(std::chrono::minutes(5));
    timer.async_wait([this, &timer](const boost::system::error_code& ec) {
      if (ec) return;
      try {
        crl_->refresh_if_due(ca::now_unix());
      } catch (const std::exception& e) {
        spdlog::error("CRL refresh failed: {}", e.what());
      }
      schedule_crl_refresh(timer);
    });
  }

  // The MDM profile route's view of the CA and of our public names; no CA (and so no
  // profiles) when SCEP is off, since the profiles point devices at /scep.
  MdmSettings mdm_settings() const {
    return MdmSettings{config_.scep.enabled ? authority_.get() : nullptr, config_.http.public_url,
                       config_.service.hostname};
  }

  std::shared_ptr<AdminApi> make_admin_api(const Config& config) {
    auto api = std::make_shared<AdminApi>(*registry_, *issuer_, admin_tokens(config), &radius_->counters(),
                                          mdm_settings());
    api->set_cookie_auth([console = console_](const HttpRequest& r, ca::UnixTime now) {
      return console->authenticate_api(r, now);
    });
    api->set_policy(PolicyControl{policy_.get(), config.policy.file,
                                  [clients = config.radius.clients](const std::string& nas)
                                      -> std::optional<std::vector<std::string>> {
                                    for (const auto& client : clients)
                                      if (client.name == nas) return client.groups;
                                    return std::nullopt;
                                  }});
    api->set_scep(scep_enrollment_.get());
    api->set_service_counters([this] { return service_counters(); });
    api->set_nas_list([this, clients = config.radius.clients] {
      // Set in run() before any listener starts and reset after the HTTP workers are joined.
      const auto connections = radsec_ ? radsec_->connections_by_nas() : std::map<std::string, std::size_t>{};
      std::vector<NasSummary> out;
      for (const auto& c : clients) {
        const auto open = connections.find(c.name);
        out.push_back(NasSummary{c.name, c.transport.empty() ? "udp" : c.transport, c.address, c.groups,
                                 nas_activities_.find(c.name), open == connections.end() ? 0 : open->second});
      }
      return out;
    });
    api->set_node(NodeInfo{config_.service.node_name, config.ledger.backend, started_at_,
                           [this] { return node_health(); }});
    // Set in run() before any listener starts and reset after the HTTP workers are joined.
    api->set_session_disconnect([this](const ca::RadiusSessionRow& row, const std::string& why) {
      return session_control_ && session_control_->disconnect(row, why);
    });
    api->set_health([this] { return ledger_health_ ? ledger_health_->state(Clock::now()).reason : std::string(); });
    std::vector<radius::IpPrefix> allow;
    for (const auto& cidr : config.metrics.allow) allow.push_back(radius::IpPrefix::parse(cidr));  // checked by load_config
    api->set_metrics([this] { return metrics_scrape_->render(ca::now_unix()); }, std::move(allow));
    return api;
  }

  std::unique_ptr<Notifier> make_notifier() {
    if (config_.notify.webhook_url.empty()) return nullptr;
    NotifierSettings settings;
    settings.webhook_url = config_.notify.webhook_url;
    settings.ca_file = config_.notify.ca_file;
    settings.expiry_window_days = config_.notify.expiry_window_days;
    settings.check_interval = std::chrono::hours(config_.notify.check_interval_hours);
    settings.reject_spike_per_minute = config_.notify.reject_spike_per_minute;
    auto notifier = std::make_unique<Notifier>(settings, *ledger_, [this] { return metric_instruments_.rejects_by_nas(); });
    notifier->start();
    return notifier;
  }

  MetricSources metric_sources() {
    MetricSources sources;
    sources.instruments = &metric_instruments_;
    sources.radius = radius_.get();
    sources.scep = scep_enrollment_.get();
    sources.index = &index_;
    sources.events_dropped = [this] { return events_->counters().dropped; };
    // Set in run() before the HTTP listeners start, reset after their workers are joined.
    sources.radsec = [this]() -> std::optional<RadsecStats> {
      if (!radsec_) return std::nullopt;
      return radsec_->stats();
    };
    // Set in run() before any listener starts.
    sources.ledger = [this]() -> std::optional<LedgerMetrics> {
      if (!ledger_health_) return std::nullopt;
      const LedgerFollowState s = ledger_health_->state(Clock::now());
      return LedgerMetrics{s.connected, s.catch_up_age_seconds, s.changes_applied};
    };
    // Set in run() before any listener starts and reset after the HTTP workers are joined.
    sources.dynauth = [this]() -> std::optional<radius::DynauthClientStats> {
      if (!session_control_) return std::nullopt;
      return session_control_->stats();
    };
    return sources;
  }

  std::vector<std::pair<std::string, std::uint64_t>> service_counters() const {
    std::vector<std::pair<std::string, std::uint64_t>> out{
        {"handler_exceptions", handler_exceptions_.load(std::memory_order_relaxed)}};
    const ca::EventWriterCounters events = events_->counters();
    out.insert(out.end(), {{"events_emitted", events.emitted},
                           {"events_dropped", events.dropped},
                           {"events_written", events.written},
                           {"events_pruned", events.pruned},
                           {"events_store_errors", events.store_errors}});
    if (const HttpListeners* http = http_listeners_.load()) {
      for (auto& counter : http->counters()) out.push_back(std::move(counter));
    }
    return out;
  }

  // A CA rollover staged by `portcullis ca rollover stage` (RFC 8894 §4.7): SCEP starts
  // offering it through GetNextCACert. A staged CA that does not load is logged and not
  // offered; the current CA is untouched either way.
  // The staged next issuing CA (if any) is named to EAP-TLS clients beside the current one,
  // so devices already enrolled from it pick that certificate; the ledger decides either way.
  std::shared_ptr<const radius::eap::TlsServerConfig> make_eap_tls_config() {
    std::optional<ca::Authority> staged;
    try {
      staged = ca::Authority::load_staged(authority_->paths());
    } catch (const std::exception& e) {
      spdlog::error("start-up: the staged CA rollover is not named to EAP-TLS clients: {}", e.what());
    }
    return radius::eap::TlsServerConfig::from_authority(*authority_, index_, {}, staged ? &*staged : nullptr);
  }

  void load_staged_rollover(const char* when) {
    try {
      const auto staged = ca::Authority::load_staged(authority_->paths());
      scep_routes_->set_next_ca(staged ? &*staged : nullptr);
      if (staged) {
        spdlog::info("{}: CA rollover staged, offered through SCEP GetNextCACert: {}", when,
                     ca::subject_string(staged->issuing()));
      }
    } catch (const std::exception& e) {
      scep_routes_->set_next_ca(nullptr);
      spdlog::error("{}: the staged CA rollover is not offered: {}", when, e.what());
    }
  }

  // SIGHUP: re-read the config and apply what can change without a restart: log level,
  // admin tokens, the NAS table (clients, secrets, groups; swapped whole, so a request
  // sees either the old table or the new one) and the policy rules; re-sign the CRL;
  // offer (or stop offering) a staged CA rollover.
  // A refused policy file keeps the running rules (its file:line is logged) while the rest
  // of the config still applies. Anything else needs a restart and is said so.
  void wait_for_reload(asio::signal_set& signal) {
    signal.async_wait([this, &signal](const boost::system::error_code& ec, int) {
      if (ec) return;
      try {
        Config fresh = load_config(config_path_);
        auto nas = make_nas_table(fresh, nas_activities_);  // may throw: nothing applied yet
        auto radsec_clients = make_radsec_clients(fresh, &nas_activities_);
        set_log_level(fresh.service.log_level);
        if (radsec_) radsec_->replace_clients(std::move(radsec_clients));
        // The NAS table (its groups) and the rules that read them change in one step.
        bool policy_ok = true;
        try {
          reload_policy_with(*policy_, fresh.policy.file, "SIGHUP", [&](const std::function<void()>& install) {
            radius_->reconfigure(nas, install);
          });
        } catch (const policy::PolicyError&) {
          policy_ok = false;  // logged with its file:line; the NAS table alone changes
          radius_->replace_nas_table(nas);
        }
        admin_api_.store(make_admin_api(fresh));
        crl_->regenerate(ca::now_unix());
        if (scep_routes_) load_staged_rollover("SIGHUP");
        spdlog::info("SIGHUP: reloaded log level, {} admin token(s), {} NAS entries, {}; CRL re-signed; listener, "
                     "CA and ledger settings take effect on restart",
                     fresh.admin.tokens.size(), nas->size(),
                     policy_ok ? std::to_string(policy_->rule_count()) + " policy rule(s)" : "NOT the policy (see above)");
      } catch (const std::exception& e) {
        spdlog::error("SIGHUP: config not reloaded, keeping the running one: {}", e.what());
      }
      wait_for_reload(signal);
    });
  }

  std::string config_path_;
  Config config_;
  MetricInstruments metric_instruments_;  // before the ledger and the RADIUS server that feed it
  std::unique_ptr<ca::Authority> authority_;
  std::unique_ptr<ca::Ledger> ledger_;
  std::unique_ptr<ca::EventWriter> events_;  // after the ledger it writes to; before its emitters
  ca::IdentityIndex index_;
  std::int64_t changes_from_ = 0;                 // the change sequence when index_ was loaded
  std::unique_ptr<ca::Registry> registry_;
  std::unique_ptr<ca::Issuer> issuer_;
  std::unique_ptr<ca::CrlPublisher> crl_;
  std::unique_ptr<ca::OcspResponder> ocsp_;
  std::unique_ptr<PublicRoutes> public_routes_;
  std::unique_ptr<scep::Enrollment> scep_enrollment_;
  std::unique_ptr<scep::HttpRoutes> scep_routes_;
  std::unique_ptr<JamfChallengeEndpoint> jamf_;     // [mdm.jamf]; null when off
  std::unique_ptr<policy::Engine> policy_;  // outlives radius_, which decides through it
  std::unique_ptr<radius::Server> radius_;
  std::shared_ptr<RadsecListener> radsec_;  // null unless [radsec] enabled
  std::shared_ptr<SessionControl> session_control_;  // lives on run()'s io_context
  const ca::UnixTime started_at_ = ca::now_unix();    // GET /api/v1/overview's uptime
  mutable std::mutex event_loss_mutex_;               // node_health's memory of lost events
  mutable std::uint64_t events_lost_seen_ = 0;
  mutable Clock::time_point events_lost_at_{};
  radius::NasActivities nas_activities_;              // by NAS name, across reloads
  std::unique_ptr<MetricsScrape> metrics_scrape_;
  // One for the process: console sign-ins survive the API's rebuild on SIGHUP.
  std::shared_ptr<console::Console> console_ = std::make_shared<console::Console>(config_.admin_tls_effective());
  // [mdm.intune]'s revocation timer (null when off). Last, so its thread stops first: a
  // revocation it makes reaches the registry's observers (CRL, RADIUS Disconnect).
  std::unique_ptr<IntuneRevocationSync> intune_sync_;
  std::atomic<std::shared_ptr<AdminApi>> admin_api_;
  // Exceptions that escaped a handler on an I/O or HTTP worker thread (logged, survived).
  std::atomic<std::uint64_t> handler_exceptions_{0};
  std::atomic<const HttpListeners*> http_listeners_{nullptr};  // while run() serves
  std::unique_ptr<LedgerHealth> ledger_health_;   // null unless the ledger is shared; set in run()
  // Other nodes' changes into index_ and the registry's observers; last, so that it is
  // stopped first, before anything its thread calls is gone.
  std::unique_ptr<ca::ChangeFollower> follower_;
  // Set in run(); its thread reads ledger_health_ and the follower, so it stops before them.
  std::unique_ptr<NodeHeartbeat> heartbeat_;
};

}  // namespace

int run_service(const std::string& config_path) {
  Service service(config_path);
  return service.run();
}

}  // namespace portcullis::app
