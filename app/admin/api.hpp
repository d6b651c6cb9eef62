// The admin API under /api/v1: JSON over HTTP, bearer tokens stored hashed in the config.
// A plain HttpHandler (no Beast, no sockets), so it is tested by calling handle() directly.
// The routes, JSON shapes and error statuses are listed at the top of api.cpp.
#pragma once

#include "app/http/types.hpp"
#include "app/policy_control.hpp"
#include "ca/issuer.hpp"
#include "ca/ledger/nodes.hpp"
#include "ca/registry.hpp"
#include "radius/clients.hpp"
#include "radius/counters.hpp"
#include "radius/nas_activity.hpp"
#include "scep/enrollment.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace portcullis::app {

struct AdminToken {
  std::string name;        // becomes the audit actor "api:<name>"
  std::string sha256_hex;  // SHA-256 of the token, hex (as stored in the config)
};

// What the per-device MDM profile route (api_mdm.cpp) needs beyond the ledger and
// the issuer: the CA certificates and where devices reach us.
struct MdmSettings {
  const ca::Authority* authority = nullptr;   // null (SCEP disabled): the route answers 404
  std::string public_url;                     // http.public_url; the SCEP URL is <public_url>/scep
  std::string hostname;                       // service.hostname: the EAP server certificate's name
};

// One NAS client for GET /nas (api_nas.cpp): from the running config, with its counters.
struct NasSummary {
  std::string name;
  std::string transport;     // "udp" | "radsec"
  std::string address;       // as configured ("" for a RadSec client named by certificate only)
  std::vector<std::string> groups;
  std::shared_ptr<const radius::NasActivity> activity;  // null: nothing counted yet
  std::size_t connections = 0;                          // open RadSec connections
};

// What GET /overview and GET /nodes say about this node.
struct NodeInfo {
  std::string name;             // service.node_name
  std::string ledger_backend;   // "sqlite" | "postgresql"
  ca::UnixTime started_at = 0;  // the process's start
  std::function<ca::NodeHealth()> health;   // null: always "ok"
};

class AdminApi {
 public:
  // Throws std::invalid_argument when a token's hash is not 64 hex digits.
  // `radius_counters` (may be null: no RADIUS front end) must outlive the API.
  AdminApi(ca::Registry& registry, ca::Issuer& issuer, std::vector<AdminToken> tokens,
           const radius::Counters* radius_counters = nullptr, MdmSettings mdm = {});

  // Thread-safe (holds no mutable state of its own). Never throws: failures become a JSON
  // {"error": "..."} with a 4xx/5xx status.
  HttpResponse handle(const HttpRequest& request);

  // Credentials besides the bearer token: the browser console's session cookie
  // (app/console). The check gives the actor, or a refusal sentence (answered 403: a state
  // change that fails the console's CSRF checks), or neither (401 as without a token). The
  // actor counts only while its token is still configured. Call before serving.
  struct CookieAuth {
    std::optional<std::string> actor;
    std::optional<std::string> refusal;
  };
  using CookieCheck = std::function<CookieAuth(const HttpRequest&, ca::UnixTime now)>;
  void set_cookie_auth(CookieCheck check) { cookie_auth_ = std::move(check); }
  // The audit actor "api:<name>" for a configured token; nullopt otherwise (constant time).
  std::optional<std::string> actor_for_token(std::string_view token) const;
  // Enables GET /policy and POST /policy/reload (api_policy.cpp); call before serving.
  void set_policy(PolicyControl policy);
  // Enables GET /scep/counters; `enrollment` must outlive the API. Call before serving.
  void set_scep(const scep::Enrollment* enrollment) { scep_ = enrollment; }
  // Enables GET /service/counters: the process's own counters (handler exceptions survived,
  // HTTP connections refused over their caps), read when asked. Call before serving.
  using CounterSnapshot = std::function<std::vector<std::pair<std::string, std::uint64_t>>()>;
  void set_service_counters(CounterSnapshot snapshot) { service_counters_ = std::move(snapshot); }
  // Enables POST /sessions/{id}/disconnect: sends an RFC 5176 Disconnect-Request for the
  // live session `row` (app/session_control.hpp) giving `why`; false when RADIUS cannot
  // (not running). Call before serving.
  // Enables GET /nas: the NAS clients as the service runs them. Call before serving.
  using NasList = std::function<std::vector<NasSummary>()>;
  void set_nas_list(NasList list) { nas_list_ = std::move(list); }
  // Enables GET /overview's node part (api_overview.cpp). Call before serving.
  void set_node(NodeInfo node) { node_ = std::move(node); }
  using SessionDisconnect = std::function<bool(const ca::RadiusSessionRow& row, const std::string& why)>;
  void set_session_disconnect(SessionDisconnect disconnect) { disconnect_ = std::move(disconnect); }
  // Enables GET /metrics (api_metrics.cpp): the Prometheus text from `render`, for a valid
  // bearer token or a client address inside one of `allow`. Call before serving.
  void set_metrics(std::function<std::string()> render, std::vector<radius::IpPrefix> allow) {
    metrics_ = std::move(render);
    metrics_allow_ = std::move(allow);
  }
  // What GET /health reports beyond "ok": a reason this node is degraded ("" = none), e.g.
  // a shared ledger it cannot follow (app/ledger_health.hpp). Call before serving.
  void set_health(std::function<std::string()> degraded_reason) { degraded_reason_ = std::move(degraded_reason); }

 private:
  struct StoredToken {
    std::string name;
    std::array<unsigned char, 32> hash{};
  };
  struct Call;
  struct Route;
  // Every route: a path pattern, a method and its handler (api.cpp).
  static std::span<const Route> routes();

  // The audit actor for a valid bearer token; nullopt for a missing or wrong one.
  std::optional<std::string> authenticate(const HttpRequest& request) const;
  // cookie_auth_'s actor while its token is still configured (a SIGHUP that removes a
  // token ends its console sessions too); throws ApiError 403 for a refusal.
  std::optional<std::string> authenticate_cookie(const HttpRequest& request, ca::UnixTime now) const;
  HttpResponse route(const Call& call);

  HttpResponse list_devices(const Call& call);
  HttpResponse create_device(const Call& call);
  HttpResponse show_device(const Call& call, const std::string& ref);
  HttpResponse set_device_enabled(const Call& call, const std::string& ref, bool enabled);
  HttpResponse set_device_groups(const Call& call, const std::string& ref);
  HttpResponse revoke_device(const Call& call, const std::string& ref);
  HttpResponse revoke_devices(const Call& call);
  HttpResponse list_certificates(const Call& call);
  HttpResponse show_certificate(const Call& call, const std::string& serial);
  HttpResponse revoke_certificate(const Call& call, const std::string& serial);
  HttpResponse issue_certificate(const Call& call);
  // api_scep.cpp (Call is private to api.cpp, so its parts are passed).
  HttpResponse create_challenge(const HttpRequest& request, const std::map<std::string, std::string>& query,
                                const std::string& actor);
  // api_bulk_challenges.cpp: a challenge each for many devices, in one transaction.
  HttpResponse create_challenges(const HttpRequest& request, const std::map<std::string, std::string>& query,
                                 const std::string& actor);
  // api_scep.cpp: SCEP requests held for manual approval (RFC 8894 §3.3.2).
  HttpResponse list_requests(const std::map<std::string, std::string>& query);
  HttpResponse decide_request(const HttpRequest& request, const std::map<std::string, std::string>& query,
                              const std::string& actor, const std::string& id, bool approve);
  // api_mdm.cpp: a device's Apple/Android/Windows profile with a fresh challenge.
  HttpResponse device_profile(const std::map<std::string, std::string>& query, const std::string& actor,
                              const std::string& device_ref, const std::string& platform);
  HttpResponse list_audit(const Call& call);
  HttpResponse show_identity(const Call& call, const std::string& serial);
  // api_sessions.cpp: RADIUS accounting sessions, and disconnecting one.
  HttpResponse list_sessions(const std::map<std::string, std::string>& query);
  HttpResponse disconnect_session(const HttpRequest& request, const std::string& actor, const std::string& id);
  // api_nas.cpp: the NAS clients with their counters since start.
  HttpResponse list_nas(const std::map<std::string, std::string>& query);
  // api_overview.cpp: the console's first page.
  HttpResponse overview(const std::map<std::string, std::string>& query, ca::UnixTime now);
  // api_nodes.cpp: the nodes that serve from this ledger, and forgetting one gone for good.
  HttpResponse list_nodes(const std::map<std::string, std::string>& query);
  HttpResponse forget_node(const HttpRequest& request, const std::string& actor, const std::string& name);
  HttpResponse show_radius_counters(const Call& call);
  HttpResponse show_scep_counters(const Call& call);
  HttpResponse show_service_counters(const Call& call);
  HttpResponse show_policy();
  // api_events.cpp: decision events, newest first.
  HttpResponse list_events(const std::map<std::string, std::string>& query, ca::UnixTime now);
  // api_why.cpp: the latest outcome per NAS and SSID and of enrollment, in words.
  HttpResponse why(const std::map<std::string, std::string>& query, const std::string& target, ca::UnixTime now);
  HttpResponse reload_policy(const HttpRequest& request, const std::string& actor);
  HttpResponse test_policy(const HttpRequest& request);
  HttpResponse serve_metrics(const HttpRequest& request) const;

  // A number means a device id, anything else a name (see api.cpp). 404 if unknown.
  ca::Device resolve_device(const std::string& ref);

  ca::Registry& registry_;
  ca::Issuer& issuer_;
  std::vector<StoredToken> tokens_;
  const radius::Counters* radius_counters_;
  MdmSettings mdm_;
  PolicyControl policy_;
  const scep::Enrollment* scep_ = nullptr;
  CounterSnapshot service_counters_;
  SessionDisconnect disconnect_;
  NodeInfo node_;
  NasList nas_list_;
  std::function<std::string()> metrics_;
  std::vector<radius::IpPrefix> metrics_allow_;
  CookieCheck cookie_auth_;
  std::function<std::string()> degraded_reason_;
};

}  // namespace portcullis::app
