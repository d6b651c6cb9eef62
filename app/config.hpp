// portcullis.toml: loading, validation and the commented template `init` writes.
// Relative paths in the file are relative to the file's own folder, so a data folder can
// be moved as a whole.
#pragma once

#include "ca/profile.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace portcullis::app {

// "portcullis.toml:12: admin.port must be 1..65535": file and line where known.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServiceSettings {
  std::string hostname = "localhost";
  // This node among those sharing a ledger (ca/ledger/nodes.hpp); empty in the file: this
  // machine's hostname.
  std::string node_name;
  int heartbeat_seconds = 10;         // how often this node writes its heartbeat row
  std::string log_level = "info";     // trace debug info warn error
  std::string log_format = "text";    // text | json
  std::string log_file;               // empty = stderr
  unsigned threads = 0;               // 0 = one per core
  unsigned http_workers = 0;          // public HTTP handler threads; 0 = four per I/O thread
};

struct HttpSettings {                 // public listener: /crl, /ocsp (and /scep later)
  std::string bind = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t max_body_bytes = 1 << 20;
  std::string public_url;             // base URL written into certificates (CDP, AIA)
  int max_connections = 512;          // open at once; more are closed at accept
  int max_connections_per_address = 64;   // of those, from one address (IPv6: one /64)
  int header_timeout_seconds = 10;    // a request's whole header
};

struct AdminTokenSetting {
  std::string name;
  std::string sha256;                 // lowercase hex of SHA-256(token)
};

struct AdminSettings {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 8443;
  bool tls = false;                   // forced on for a non-loopback bind
  std::string token_file;             // read by the CLI only
  std::size_t max_body_bytes = 1 << 20;
  std::vector<AdminTokenSetting> tokens;
  int max_connections = 64;           // separate from the public listener's
  int max_connections_per_address = 32;
  int header_timeout_seconds = 10;
  int workers = 4;                    // admin handler threads, apart from the public ones
};

struct CaSettings {
  std::string dir;
  int crl_validity_hours = 24;
  int crl_refresh_before_hours = 12;
  int ocsp_validity_hours = 1;
};

struct LedgerSettings {
  std::string backend = "sqlite";       // "sqlite" | "postgresql"
  std::string path;                     // sqlite: the database file
  std::string url;                      // postgresql: libpq URI or conninfo, without a password
  std::string password_file;            // postgresql: first line is the password; "" = PGPASSFILE/~/.pgpass
  int pool_size = 8;                    // postgresql: statement connections this node opens at most
};

struct RadiusClientSetting {          // consumed by the RADIUS front end (radius/)
  std::string name;
  std::string address;                // address or CIDR
  std::string secret;
  bool require_message_authenticator = true;   // BlastRADIUS, CVE-2024-3596
  std::uint16_t coa_port = 3799;               // RFC 5176 §3
  std::vector<std::string> groups;             // NAS groups, for policy rules (nas_group = [...])
  // RadSec (RFC 6614, docs/radsec.md): "udp" (address + secret) or "radsec" (the client
  // certificate names the NAS; address optional, secret "radsec").
  std::string transport = "udp";
  std::string certificate_name;                // radsec: our nas certificate's device, or a CN / DNS SAN
  std::string ca_file;                         // radsec: a foreign CA trusted for this client (PEM)
  bool require_radius_1_1 = false;             // radsec: close connections without ALPN radius/1.1 (RFC 9765)
  std::string coa_secret;                      // radsec: UDP Disconnect/CoA fallback when no connection is up
  bool dynauth_over_connection = true;         // radsec: false sends Disconnect/CoA over UDP (coa_secret) only
};

struct RadsecSettings {               // the RadSec listener (docs/radsec.md)
  bool enabled = false;
  std::string bind = "127.0.0.1";
  std::uint16_t port = 2083;                   // RFC 6614 §2.1
  int max_connections = 1000;
  int max_connections_per_nas = 8;
  int idle_timeout_seconds = 600;
  int handshake_timeout_seconds = 10;
  // RFC 9765 §3.3 "Version": the RADIUS versions the listener negotiates by ALPN.
  std::vector<std::string> radius_versions = {"1.0", "1.1"};
};

struct RadiusSettings {
  std::string bind = "127.0.0.1";
  std::uint16_t auth_port = 1812;
  std::uint16_t acct_port = 1813;
  std::vector<RadiusClientSetting> clients;
  // RFC 5176 Disconnect/CoA client: transmissions in all, first wait (doubled each retry),
  // and how often live sessions are checked for an expired certificate.
  int dynauth_attempts = 3;
  int dynauth_timeout_ms = 1000;
  int dynauth_max_timeout_ms = 8000;
  int expiry_check_seconds = 30;
  // EAP conversations in progress (docs/configuration.md gives the memory bound).
  int max_eap_sessions_per_nas = 2000;         // open conversations one NAS client entry may hold
  int eap_memory_budget_mib = 256;             // new conversations refused past this
  int eap_timeout_seconds = 60;                // a conversation silent this long is abandoned
  // Accounting sessions (docs/configuration.md).
  int max_live_sessions = 100000;              // in memory; the one nearest its deadline makes room
  int acct_stale_intervals = 3;                // silent this many interim intervals: closed
  int acct_default_interim_seconds = 3600;     // the interval when the NAS announces none
  int session_retention_days = 30;             // stopped sessions kept in the ledger this long
  int max_session_rows = 1000000;              // and at most this many rows in all
  int ledger_queue = 10000;                    // RADIUS ledger writes waiting for their thread
};

struct ScepWebhookSetting {           // [[scep.webhooks]] (docs/mdm.md)
  std::string url;                    // http:// or https://
  std::string role = "validate";      // validate | notify
  std::string secret_file;            // HMAC-SHA256 key of X-Portcullis-Signature (resolved path)
  std::string bearer_token_file;      // optional Authorization: Bearer token (resolved path)
  int timeout_ms = 5000;              // a whole exchange; a SCEP worker waits no longer
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";  // anchors an https endpoint
  int notify_attempts = 5;            // notify: posts before an outcome is dropped
};

struct ScepSettings {                 // the SCEP front end (scep/), /scep on the public listener
  bool enabled = true;
  std::string profile = "device";     // profile for static-challenge enrollments
  std::string static_challenge;       // empty: one-time challenges and renewals only
  bool allow_legacy_crypto = false;   // single DES + SHA-1 (micromdm scepclient 2.1.0); loads the legacy provider
  int refusal_rows_per_source_per_minute = 20;   // audit rows for refused requests; more are only counted
  int refusal_rows_max = 100000;                 // refusal rows kept in the ledger; the oldest go
  std::vector<ScepWebhookSetting> webhooks;      // asked in order about challenges Portcullis did not mint
};

struct JamfConfig {                  // [mdm.jamf]: POST /scep/challenge/jamf (docs/mdm.md)
  bool enabled = false;
  std::string user;                   // HTTP Basic user Jamf Pro sends
  std::string password_file;          // its password (resolved path); never in the config itself
  int challenge_ttl_seconds = 3600;   // a challenge unused this long expires
  std::string profile;                // what its challenges enroll into; empty = scep.profile
};

struct IntuneConfig {                // [mdm.intune]: Microsoft Intune as a challenge source (docs/mdm.md)
  bool enabled = false;
  std::string tenant;                  // Entra ID tenant id or domain
  std::string client_id;               // the app registration's application id
  std::string client_secret_file;      // its client secret (resolved path), or:
  std::string client_certificate_file; // its certificate and RSA key (resolved paths)
  std::string client_key_file;
  std::string login_url = "https://login.microsoftonline.com";   // tests point these at a stand-in
  std::string graph_url = "https://graph.microsoft.com";
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";    // anchors every https call
  int timeout_ms = 10000;              // each call a SCEP worker waits for
  int revocation_sync_seconds = 300;   // downloadRevocationRequests this often; 0: never
  int revocation_batch = 100;          // maxRequests per download, 1..500
  std::vector<std::string> groups = {"intune"};   // of devices an Intune enrollment creates
  std::string caller_info = "Portcullis";         // callerInfo and UserAgent sent to Intune
};

struct MdmConfig {                    // [mdm.*]: MDM services Portcullis works with
  JamfConfig jamf;
  IntuneConfig intune;
};

struct EventSettings {                // decision events (docs/events.md)
  bool enabled = true;                // false: no events are made (nothing recorded, nothing to ask `why`)
  int keep_days = 30;                 // events older than this are deleted
  int max_rows = 5000000;             // and the oldest beyond this many
  int queue = 20000;                  // events waiting for their writer; more are dropped, counted
};

struct PolicySettings {               // access policy rules (policy/), reloaded on SIGHUP
  std::string file;                   // resolved path; empty = no rules (valid devices accepted)
};

struct MetricsSettings {              // GET /metrics on the admin listener
  std::vector<std::string> allow;     // CIDRs read without the token; empty = the token only
};

struct NotifySettings {               // alerts POSTed as JSON (docs/operations.md, "Metrics and alerts")
  std::string webhook_url;            // http:// or https://; empty = no alerts
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";  // anchors an https receiver
  int expiry_window_days = 30;        // certificates expiring within this are posted, once each
  int check_interval_hours = 24;      // how often the expiry check runs (also at start-up)
  int reject_spike_per_minute = 0;    // Access-Rejects per NAS in a minute that make an alert; 0 = off
};

struct Config {
  std::string path;                   // the file it was read from
  std::string base_dir;               // its folder; relative paths resolve against it
  ServiceSettings service;
  HttpSettings http;
  AdminSettings admin;
  CaSettings ca;
  LedgerSettings ledger;
  RadiusSettings radius;
  RadsecSettings radsec;
  ScepSettings scep;
  PolicySettings policy;
  EventSettings events;
  MetricsSettings metrics;
  NotifySettings notify;
  MdmConfig mdm;
  ca::Profiles profiles;

  // Admin TLS is required whenever the admin listener is reachable from elsewhere.
  bool admin_tls_effective() const;
};

Config load_config(const std::string& path);
// gethostname(2), "localhost" when it has none: the default [service] node_name.
std::string machine_hostname();
// Throws std::invalid_argument unless `name` is 1 to 64 letters, digits, '.', '-', '_',
// the first a letter or digit.
void check_node_name(const std::string& name);
bool is_loopback_address(const std::string& address);

// What `init` writes: every option present, each with a comment.
struct ConfigTemplate {
  std::string hostname;
  std::string node_name;
  std::string bind;
  std::uint16_t http_port = 8080;
  std::uint16_t admin_port = 8443;
  std::uint16_t radius_port = 1812;   // accounting = radius_port + 1
  std::string admin_token_sha256;
  std::string radius_secret;
  std::string scep_static_challenge;
  std::string ledger_url;               // empty: the SQLite ledger.db
  std::string ledger_password_file;
};
std::string render_config(const ConfigTemplate& t);

}  // namespace portcullis::app
