#include "app/config.hpp"

#include "app/http/url.hpp"
#include "ca/log_text.hpp"

#include "radius/clients.hpp"

#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>

namespace portcullis::app {
namespace {

namespace fs = std::filesystem;

// Reads one table, rejecting keys it does not know: a typo in a security setting
// (say `require_message_authenticater`) must not silently fall back to a default.
class Section {
 public:
  Section(const std::string& file, const std::string& name, const toml::table* table)
      : file_(file), name_(name), table_(table) {}

  template <class T>
  void get(const char* key, T& out) {
    known_.insert(key);
    if (table_ == nullptr) return;
    const toml::node* node = table_->get(key);
    if (node == nullptr) return;
    if constexpr (std::is_same_v<T, bool>) {
      auto v = node->value<bool>();
      if (!v) fail(*node, std::string(key) + " must be true or false");
      out = *v;
    } else if constexpr (std::is_integral_v<T>) {
      // value_exact: toml++'s value<int64_t>() converts floats, out of range with an
      // undefined cast; an integer setting takes a TOML integer only.
      auto v = node->value_exact<std::int64_t>();
      if (!v) fail(*node, std::string(key) + " must be an integer");
      out = static_cast<T>(*v);
      if (static_cast<std::int64_t>(out) != *v) fail(*node, std::string(key) + " is out of range");
    } else if constexpr (std::is_same_v<T, std::string>) {
      auto v = node->value<std::string>();
      if (!v) fail(*node, std::string(key) + " must be a string");
      out = *v;
    } else {
      static_assert(std::is_same_v<T, std::vector<std::string>>);
      const toml::array* arr = node->as_array();
      if (arr == nullptr) fail(*node, std::string(key) + " must be an array of strings");
      out.clear();
      for (const auto& el : *arr) {
        auto v = el.value<std::string>();
        if (!v) fail(el, std::string(key) + " must be an array of strings");
        out.push_back(*v);
      }
    }
  }

  void port(const char* key, std::uint16_t& out) {
    std::int64_t v = out;
    get(key, v);
    if (v < 1 || v > 65535) fail_key(key, "must be 1..65535");
    out = static_cast<std::uint16_t>(v);
  }

  void positive(const char* key, int& out) {
    get(key, out);
    if (out <= 0) fail_key(key, "must be positive");
  }

  // A [[key]] array of tables this section holds (null when absent); marks it known.
  const toml::array* tables(const char* key) {
    known_.insert(key);
    const toml::node* node = table_ ? table_->get(key) : nullptr;
    if (node == nullptr) return nullptr;
    const toml::array* array = node->as_array();
    if (array == nullptr || (!array->empty() && !array->is_array_of_tables()))
      fail(*node, qualified(key) + " must be an array of tables ([[" + qualified(key) + "]])");
    return array;
  }

  // A [key] sub-table this section holds (null when absent); marks it known.
  const toml::table* subtable(const char* key) {
    known_.insert(key);
    const toml::node* node = table_ ? table_->get(key) : nullptr;
    if (node == nullptr) return nullptr;
    if (!node->is_table()) fail(*node, qualified(key) + " must be a table ([" + qualified(key) + "])");
    return node->as_table();
  }

  // Call after every get() and tables(): anything left is unknown, a misspelt [table] or
  // [[array of tables]] included, with the line it starts on.
  void finish() const {
    if (table_ == nullptr) return;
    for (const auto& [k, node] : *table_) {
      const std::string key(k.str());
      if (known_.count(key) != 0) continue;
      if (node.is_table()) fail(node, "unknown table [" + qualified(key) + "]");
      if (node.is_array_of_tables()) fail(node, "unknown array of tables [[" + qualified(key) + "]]");
      fail(node, "unknown setting " + qualified(key));
    }
  }

  [[noreturn]] void fail_key(const char* key, const std::string& what) const {
    const toml::node* node = table_ ? table_->get(key) : nullptr;
    if (node) fail(*node, qualified(key) + " " + what);
    throw ConfigError(file_ + ": " + qualified(key) + " " + what);
  }

  [[noreturn]] void fail(const toml::node& node, const std::string& what) const {
    std::ostringstream msg;
    msg << file_ << ":" << node.source().begin.line << ": " << what;
    throw ConfigError(msg.str());
  }

 private:
  std::string qualified(const std::string& key) const { return name_.empty() ? key : name_ + "." + key; }

  std::string file_, name_;
  const toml::table* table_;
  std::set<std::string> known_;
};

std::string resolve(const std::string& base, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(base) / path).lexically_normal().string();
}

const std::set<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error"};
const std::set<std::string> kSanTypes = {"dns", "email", "uri", "ip"};
const std::set<std::string> kEkus = {"clientAuth", "serverAuth"};

void load_profile(const std::string& file, const std::string& name, const toml::table& table, ca::Profile& p) {
  Section s(file, "profiles." + name, &table);
  p.name = name;
  s.positive("validity_days", p.validity_days);
  s.get("extended_key_usage", p.extended_key_usage);
  s.get("allowed_san_types", p.allowed_san_types);
  // Configs written before the names came from templates list the CSR subject attributes
  // that were copied; nothing is copied from a CSR now. Accepted so they still load.
  std::vector<std::string> obsolete;
  s.get("subject_attributes", obsolete);
  if (table.contains("subject_attributes"))
    spdlog::warn("{}: profiles.{}.subject_attributes is no longer used (the subject comes from subject_template, "
                 "docs/configuration.md); remove it", file, name);
  s.get("subject_template", p.subject_template);
  s.get("san_templates", p.san_templates);
  s.get("min_rsa_bits", p.min_rsa_bits);
  s.get("allowed_curves", p.allowed_curves);
  s.get("manual_approval", p.manual_approval);
  std::string on_reenroll = p.revoke_on_reenroll ? "revoke" : "keep";
  s.get("on_reenroll", on_reenroll);
  s.get("renew_before_days", p.renew_before_days);
  s.finish();
  if (on_reenroll != "revoke" && on_reenroll != "keep") s.fail_key("on_reenroll", "must be \"revoke\" or \"keep\"");
  p.revoke_on_reenroll = on_reenroll == "revoke";
  if (p.renew_before_days < 0) s.fail_key("renew_before_days", "must be 0 (any time) or positive");
  for (const auto& e : p.extended_key_usage)
    if (!kEkus.count(e)) s.fail_key("extended_key_usage", "has unknown usage \"" + e + "\" (clientAuth, serverAuth)");
  for (const auto& t : p.allowed_san_types)
    if (!kSanTypes.count(t)) s.fail_key("allowed_san_types", "has unknown type \"" + t + "\" (dns, email, uri, ip)");
  if (p.min_rsa_bits < 2048) s.fail_key("min_rsa_bits", "must be at least 2048");
}

toml::table parse_toml(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << path << ":" << e.source().begin.line << ": " << e.description();
    throw ConfigError(msg.str());
  }
}

void check_sections(const std::string& path, const toml::table& root) {
  static const std::set<std::string> sections = {"service", "http", "admin", "ca", "ledger", "radius", "scep", "policy", "profiles",
                                                 "radsec", "events", "metrics", "notify", "mdm"};
  Section top(path, "", &root);
  for (const auto& [k, node] : root) {
    if (!sections.count(std::string(k.str()))) top.fail(node, "unknown section [" + std::string(k.str()) + "]");
    if (!node.is_table()) top.fail(node, "[" + std::string(k.str()) + "] must be a table");
  }
}

// The connection limits both HTTP listeners have (app/http/connection_limits.hpp).
template <class Listener>
void read_connection_limits(Section& s, Listener& listener) {
  s.positive("max_connections", listener.max_connections);
  s.positive("max_connections_per_address", listener.max_connections_per_address);
  s.positive("header_timeout_seconds", listener.header_timeout_seconds);
}

}  // namespace

std::string machine_hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

void check_node_name(const std::string& name) {
  // A letter or digit first: "." and ".." would be path segments a URL client folds away
  // (RFC 3986 §5.2.4) in /api/v1/nodes/{name}/forget.
  const auto allowed = [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_';
  };
  const bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0])) &&
                  std::all_of(name.begin(), name.end(), allowed);
  if (!ok) throw std::invalid_argument("must be 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit");
}

namespace {

void load_service(const std::string& path, const toml::table& root, Config& c) {
  Section service(path, "service", root["service"].as_table());
  service.get("hostname", c.service.hostname);
  service.get("log_level", c.service.log_level);
  service.get("log_format", c.service.log_format);
  service.get("log_file", c.service.log_file);
  service.get("threads", c.service.threads);
  service.get("http_workers", c.service.http_workers);
  service.get("node_name", c.service.node_name);
  service.positive("heartbeat_seconds", c.service.heartbeat_seconds);
  service.finish();
  if (c.service.heartbeat_seconds > 300) service.fail_key("heartbeat_seconds", "must be at most 300");
  if (c.service.node_name.empty()) c.service.node_name = machine_hostname();
  try {
    check_node_name(c.service.node_name);
  } catch (const std::invalid_argument& e) {
    service.fail_key("node_name", e.what());
  }
  if (!kLogLevels.count(c.service.log_level)) service.fail_key("log_level", "must be trace, debug, info, warn or error");
  if (c.service.log_format != "text" && c.service.log_format != "json")
    service.fail_key("log_format", "must be \"text\" or \"json\"");
  c.service.log_file = resolve(c.base_dir, c.service.log_file);
}

void load_http(const std::string& path, const toml::table& root, Config& c) {
  Section http(path, "http", root["http"].as_table());
  http.get("bind", c.http.bind);
  http.port("port", c.http.port);
  http.get("max_body_bytes", c.http.max_body_bytes);
  http.get("public_url", c.http.public_url);
  read_connection_limits(http, c.http);
  http.finish();
  if (c.http.header_timeout_seconds > 300) http.fail_key("header_timeout_seconds", "must be at most 300");
  if (c.http.public_url.empty()) c.http.public_url = "http://" + c.service.hostname + ":" + std::to_string(c.http.port);
  while (!c.http.public_url.empty() && c.http.public_url.back() == '/') c.http.public_url.pop_back();
}

void load_admin_tokens(const std::string& path, const toml::array& tokens, Config& c) {
  for (const auto& el : tokens) {
    Section ts(path, "admin.tokens", el.as_table());
    AdminTokenSetting token;
    ts.get("name", token.name);
    ts.get("sha256", token.sha256);
    ts.finish();
    if (token.name.empty()) ts.fail(el, "admin.tokens entry needs a name");
    if (token.sha256.size() != 64 || token.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
      ts.fail(el, "admin.tokens." + token.name + ".sha256 must be 64 lowercase hex digits");
    c.admin.tokens.push_back(std::move(token));
  }
}

void load_admin(const std::string& path, const toml::table& root, Config& c) {
  Section admin(path, "admin", root["admin"].as_table());
  admin.get("bind", c.admin.bind);
  admin.port("port", c.admin.port);
  admin.get("tls", c.admin.tls);
  admin.get("token_file", c.admin.token_file);
  admin.get("max_body_bytes", c.admin.max_body_bytes);
  read_connection_limits(admin, c.admin);
  admin.positive("workers", c.admin.workers);
  const toml::array* tokens = admin.tables("tokens");
  admin.finish();
  if (c.admin.header_timeout_seconds > 300) admin.fail_key("header_timeout_seconds", "must be at most 300");
  c.admin.token_file = resolve(c.base_dir, c.admin.token_file);
  if (tokens != nullptr) load_admin_tokens(path, *tokens, c);
}

void load_ca(const std::string& path, const toml::table& root, Config& c) {
  Section ca(path, "ca", root["ca"].as_table());
  c.ca.dir = "ca";
  ca.get("dir", c.ca.dir);
  ca.positive("crl_validity_hours", c.ca.crl_validity_hours);
  ca.get("crl_refresh_before_hours", c.ca.crl_refresh_before_hours);
  ca.positive("ocsp_validity_hours", c.ca.ocsp_validity_hours);
  ca.finish();
  if (c.ca.crl_refresh_before_hours < 0 || c.ca.crl_refresh_before_hours >= c.ca.crl_validity_hours)
    ca.fail_key("crl_refresh_before_hours", "must be between 0 and crl_validity_hours");
  c.ca.dir = resolve(c.base_dir, c.ca.dir);
}

void load_ledger(const std::string& path, const toml::table& root, Config& c) {
  Section ledger(path, "ledger", root["ledger"].as_table());
  c.ledger.path = "ledger.db";
  ledger.get("backend", c.ledger.backend);
  ledger.get("path", c.ledger.path);
  ledger.get("url", c.ledger.url);
  ledger.get("password_file", c.ledger.password_file);
  ledger.get("pool_size", c.ledger.pool_size);
  ledger.finish();
  if (c.ledger.backend != "sqlite" && c.ledger.backend != "postgresql")
    ledger.fail_key("backend", "must be \"sqlite\" or \"postgresql\"");
  if (c.ledger.backend == "postgresql" && c.ledger.url.empty())
    ledger.fail_key("url", "is required with backend = \"postgresql\" (postgresql://user@host:port/db)");
  if (c.ledger.backend == "sqlite" && (!c.ledger.url.empty() || !c.ledger.password_file.empty()))
    ledger.fail_key("url", "and password_file are for backend = \"postgresql\"");
  // Each node holds up to pool_size connections (+1 listening for other nodes' changes)
  // out of the server's max_connections, which all nodes share.
  const toml::table* ledger_table = root["ledger"].as_table();
  if (c.ledger.backend == "sqlite" && ledger_table != nullptr && ledger_table->contains("pool_size"))
    ledger.fail_key("pool_size", "is for backend = \"postgresql\"");
  if (c.ledger.pool_size < 1 || c.ledger.pool_size > 256) ledger.fail_key("pool_size", "must be 1..256");
  c.ledger.path = resolve(c.base_dir, c.ledger.path);
  if (!c.ledger.password_file.empty()) c.ledger.password_file = resolve(c.base_dir, c.ledger.password_file);
}

// A RadSec client is named by its certificate; its secret is "radsec" (RFC 6614 §2.3), and
// an address, when given, only narrows where it may connect from.
void check_radsec_client(Section& cs, const toml::node& el, RadiusClientSetting& client, const std::string& base_dir) {
  if (client.name.empty() || client.certificate_name.empty())
    cs.fail(el, "radius.clients entry with transport = \"radsec\" needs name and certificate_name");
  if (!client.secret.empty() && client.secret != "radsec")
    cs.fail(el, "radius.clients." + client.name + ".secret: RadSec uses the fixed secret \"radsec\" (RFC 6614 §2.3); leave it out");
  client.secret = "radsec";
  if (!client.address.empty()) {
    try {
      radius::IpPrefix::parse(client.address);
    } catch (const std::invalid_argument& e) {
      cs.fail(el, "radius.clients." + client.name + ".address: " + e.what());
    }
  }
  if (!client.ca_file.empty()) client.ca_file = resolve(base_dir, client.ca_file);
  // RFC 2865 §3 asks 16 octets of a shared secret; the UDP fallback uses this one.
  if (!client.coa_secret.empty() && client.coa_secret.size() < 16)
    cs.fail(el, "radius.clients." + client.name + ".coa_secret must be at least 16 characters");
}

void load_radius_clients(const std::string& path, const toml::array& clients, Config& c) {
  for (const auto& el : clients) {
    Section cs(path, "radius.clients", el.as_table());
    RadiusClientSetting client;
    cs.get("name", client.name);
    cs.get("address", client.address);
    cs.get("secret", client.secret);
    cs.get("require_message_authenticator", client.require_message_authenticator);
    cs.port("coa_port", client.coa_port);
    cs.get("groups", client.groups);
    cs.get("transport", client.transport);
    cs.get("certificate_name", client.certificate_name);
    cs.get("ca_file", client.ca_file);
    cs.get("require_radius_1_1", client.require_radius_1_1);
    cs.get("coa_secret", client.coa_secret);
    cs.get("dynauth_over_connection", client.dynauth_over_connection);
    cs.finish();
    if (client.transport == "radsec") {
      check_radsec_client(cs, el, client, c.base_dir);
      c.radius.clients.push_back(std::move(client));
      continue;
    }
    if (client.transport != "udp") cs.fail(el, "radius.clients." + client.name + ".transport must be \"udp\" or \"radsec\"");
    if (!client.certificate_name.empty() || !client.ca_file.empty() || client.require_radius_1_1 ||
        !client.coa_secret.empty() || el.as_table()->contains("dynauth_over_connection"))
      cs.fail(el, "radius.clients." + client.name +
                      ": certificate_name, ca_file, require_radius_1_1, coa_secret and dynauth_over_connection need "
                      "transport = \"radsec\"");
    if (client.name.empty() || client.address.empty()) cs.fail(el, "radius.clients entry needs name and address");
    // RFC 2865 §3: the secret "SHOULD be at least 16 octets".
    if (client.secret.size() < 16) cs.fail(el, "radius.clients." + client.name + ".secret must be at least 16 characters");
    c.radius.clients.push_back(std::move(client));
  }
}

void load_radius(const std::string& path, const toml::table& root, Config& c) {
  Section radius(path, "radius", root["radius"].as_table());
  radius.get("bind", c.radius.bind);
  radius.port("auth_port", c.radius.auth_port);
  radius.port("acct_port", c.radius.acct_port);
  radius.positive("dynauth_attempts", c.radius.dynauth_attempts);
  radius.positive("dynauth_timeout_ms", c.radius.dynauth_timeout_ms);
  radius.positive("dynauth_max_timeout_ms", c.radius.dynauth_max_timeout_ms);
  radius.positive("expiry_check_seconds", c.radius.expiry_check_seconds);
  radius.positive("max_eap_sessions_per_nas", c.radius.max_eap_sessions_per_nas);
  radius.positive("eap_memory_budget_mib", c.radius.eap_memory_budget_mib);
  radius.positive("max_live_sessions", c.radius.max_live_sessions);
  radius.positive("acct_stale_intervals", c.radius.acct_stale_intervals);
  radius.positive("acct_default_interim_seconds", c.radius.acct_default_interim_seconds);
  radius.positive("session_retention_days", c.radius.session_retention_days);
  radius.positive("max_session_rows", c.radius.max_session_rows);
  radius.positive("eap_timeout_seconds", c.radius.eap_timeout_seconds);
  radius.positive("ledger_queue", c.radius.ledger_queue);
  const toml::array* clients = radius.tables("clients");
  radius.finish();
  if (c.radius.dynauth_attempts > 10) radius.fail_key("dynauth_attempts", "must be at most 10");
  if (c.radius.dynauth_max_timeout_ms < c.radius.dynauth_timeout_ms)
    radius.fail_key("dynauth_max_timeout_ms", "must be at least dynauth_timeout_ms");
  if (clients != nullptr) load_radius_clients(path, *clients, c);
}

void load_scep_webhooks(const std::string& path, const toml::array& webhooks, Config& c) {
  for (std::size_t i = 0; i < webhooks.size(); ++i) {
    Section hook(path, "scep.webhooks[" + std::to_string(i) + "]", webhooks.get(i)->as_table());
    ScepWebhookSetting w;
    hook.get("url", w.url);
    hook.get("role", w.role);
    hook.get("secret_file", w.secret_file);
    hook.get("bearer_token_file", w.bearer_token_file);
    hook.positive("timeout_ms", w.timeout_ms);
    hook.get("ca_file", w.ca_file);
    hook.positive("notify_attempts", w.notify_attempts);
    hook.finish();
    try {
      parse_http_url(w.url);
    } catch (const std::invalid_argument& e) {
      hook.fail_key("url", e.what());
    }
    if (w.role != "validate" && w.role != "notify") hook.fail_key("role", "must be \"validate\" or \"notify\"");
    if (w.secret_file.empty()) hook.fail_key("secret_file", "is required: every post is signed with it");
    if (w.timeout_ms > 60000) hook.fail_key("timeout_ms", "must be at most 60000");
    if (w.notify_attempts > 20) hook.fail_key("notify_attempts", "must be at most 20");
    w.secret_file = resolve(c.base_dir, w.secret_file);
    w.bearer_token_file = resolve(c.base_dir, w.bearer_token_file);
    w.ca_file = resolve(c.base_dir, w.ca_file);
    c.scep.webhooks.push_back(std::move(w));
  }
}

void load_radsec(const std::string& path, const toml::table& root, Config& c) {
  Section radsec(path, "radsec", root["radsec"].as_table());
  radsec.get("enabled", c.radsec.enabled);
  radsec.get("bind", c.radsec.bind);
  radsec.port("port", c.radsec.port);
  radsec.positive("max_connections", c.radsec.max_connections);
  radsec.positive("max_connections_per_nas", c.radsec.max_connections_per_nas);
  radsec.positive("idle_timeout_seconds", c.radsec.idle_timeout_seconds);
  radsec.positive("handshake_timeout_seconds", c.radsec.handshake_timeout_seconds);
  radsec.get("radius_versions", c.radsec.radius_versions);
  radsec.finish();
  const auto& versions = c.radsec.radius_versions;
  if (versions.empty() || std::any_of(versions.begin(), versions.end(),
                                      [](const std::string& v) { return v != "1.0" && v != "1.1"; }))
    radsec.fail_key("radius_versions", "must list \"1.0\", \"1.1\" or both (RFC 9765 §3.3)");
}

void load_scep(const std::string& path, const toml::table& root, Config& c) {
  Section scep(path, "scep", root["scep"].as_table());
  scep.get("enabled", c.scep.enabled);
  scep.get("profile", c.scep.profile);
  scep.get("static_challenge", c.scep.static_challenge);
  scep.get("allow_legacy_crypto", c.scep.allow_legacy_crypto);
  scep.positive("refusal_rows_per_source_per_minute", c.scep.refusal_rows_per_source_per_minute);
  scep.positive("refusal_rows_max", c.scep.refusal_rows_max);
  const toml::array* webhooks = scep.tables("webhooks");
  scep.finish();
  if (webhooks != nullptr) load_scep_webhooks(path, *webhooks, c);
  // A guessable shared secret would let anyone enroll: refuse short ones outright.
  if (!c.scep.static_challenge.empty() && c.scep.static_challenge.size() < 16)
    scep.fail_key("static_challenge", "must be empty or at least 16 characters");
}

void load_events(const std::string& path, const toml::table& root, Config& c) {
  Section events(path, "events", root["events"].as_table());
  events.get("enabled", c.events.enabled);
  events.positive("keep_days", c.events.keep_days);
  events.positive("max_rows", c.events.max_rows);
  events.positive("queue", c.events.queue);
  events.finish();
}

void load_policy(const std::string& path, const toml::table& root, Config& c) {
  Section policy(path, "policy", root["policy"].as_table());
  policy.get("file", c.policy.file);
  policy.finish();
  c.policy.file = resolve(c.base_dir, c.policy.file);
}

void load_metrics_and_notify(const std::string& path, const toml::table& root, Config& c) {
  Section metrics(path, "metrics", root["metrics"].as_table());
  metrics.get("allow", c.metrics.allow);
  metrics.finish();
  for (const auto& cidr : c.metrics.allow) {
    try {
      radius::IpPrefix::parse(cidr);
    } catch (const std::invalid_argument& e) {
      metrics.fail_key("allow", std::string("has an entry that is ") + e.what());
    }
  }

  Section notify(path, "notify", root["notify"].as_table());
  notify.get("webhook_url", c.notify.webhook_url);
  notify.get("ca_file", c.notify.ca_file);
  notify.positive("expiry_window_days", c.notify.expiry_window_days);
  notify.positive("check_interval_hours", c.notify.check_interval_hours);
  notify.get("reject_spike_per_minute", c.notify.reject_spike_per_minute);
  notify.finish();
  if (!c.notify.webhook_url.empty()) {
    try {
      parse_http_url(c.notify.webhook_url);
    } catch (const std::invalid_argument& e) {
      notify.fail_key("webhook_url", e.what());
    }
  }
  if (c.notify.reject_spike_per_minute < 0) notify.fail_key("reject_spike_per_minute", "must be 0 (off) or positive");
  c.notify.ca_file = resolve(c.base_dir, c.notify.ca_file);
}

// The public listener speaks plain HTTP (RFC 9112): a secret it carries is safe only when
// it is bound to loopback or its public URL says a TLS proxy (RFC 9110 §4.2.2) fronts it.
bool public_listener_behind_tls(const HttpSettings& http) {
  if (is_loopback_address(http.bind)) return true;
  try {
    return parse_http_url(http.public_url).tls;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

void load_intune(const std::string& path, const toml::table* table, Config& c) {
  Section intune(path, "mdm.intune", table);
  IntuneConfig& i = c.mdm.intune;
  intune.get("enabled", i.enabled);
  intune.get("tenant", i.tenant);
  intune.get("client_id", i.client_id);
  intune.get("client_secret_file", i.client_secret_file);
  intune.get("client_certificate_file", i.client_certificate_file);
  intune.get("client_key_file", i.client_key_file);
  intune.get("login_url", i.login_url);
  intune.get("graph_url", i.graph_url);
  intune.get("ca_file", i.ca_file);
  intune.positive("timeout_ms", i.timeout_ms);
  intune.get("revocation_sync_seconds", i.revocation_sync_seconds);
  intune.positive("revocation_batch", i.revocation_batch);
  intune.get("groups", i.groups);
  intune.get("caller_info", i.caller_info);
  intune.finish();
  i.client_secret_file = resolve(c.base_dir, i.client_secret_file);
  i.client_certificate_file = resolve(c.base_dir, i.client_certificate_file);
  i.client_key_file = resolve(c.base_dir, i.client_key_file);
  i.ca_file = resolve(c.base_dir, i.ca_file);
  if (!i.enabled) return;
  if (i.tenant.empty() || ca::has_control_characters(i.tenant) || i.tenant.find('/') != std::string::npos)
    intune.fail_key("tenant", "must be set: the tenant id or domain, no '/'");
  if (i.client_id.empty()) intune.fail_key("client_id", "must be set");
  const bool secret = !i.client_secret_file.empty();
  const bool certificate = !i.client_certificate_file.empty() || !i.client_key_file.empty();
  if (secret == certificate)
    intune.fail_key("client_secret_file", "or client_certificate_file and client_key_file: exactly one credential");
  if (certificate && (i.client_certificate_file.empty() || i.client_key_file.empty()))
    intune.fail_key("client_key_file", "and client_certificate_file go together");
  for (const auto& [key, url] : {std::pair{"login_url", &i.login_url}, std::pair{"graph_url", &i.graph_url}}) {
    try {
      if (!parse_http_url(*url).tls) intune.fail_key(key, "must be https://: tokens and secrets cross it");
    } catch (const std::invalid_argument& e) {
      intune.fail_key(key, e.what());
    }
  }
  if (i.timeout_ms > 60000) intune.fail_key("timeout_ms", "must be at most 60000");
  if (i.revocation_sync_seconds < 0) intune.fail_key("revocation_sync_seconds", "must be 0 (off) or positive");
  if (i.revocation_batch > 500) intune.fail_key("revocation_batch", "must be at most 500 (the contract's maximum)");
  if (i.caller_info.empty() || ca::has_control_characters(i.caller_info)) intune.fail_key("caller_info", "must be one line of text");
  for (const auto& group : i.groups)
    if (group.empty() || ca::has_control_characters(group)) intune.fail_key("groups", "must hold group names");
  if (!c.scep.enabled) intune.fail_key("enabled", "needs [scep] enabled: Intune's challenges are for /scep");
}

void load_mdm(const std::string& path, const toml::table& root, Config& c) {
  Section mdm(path, "mdm", root["mdm"].as_table());
  const toml::table* jamf_table = mdm.subtable("jamf");
  const toml::table* intune_table = mdm.subtable("intune");
  mdm.finish();
  load_intune(path, intune_table, c);
  Section jamf(path, "mdm.jamf", jamf_table);
  JamfConfig& j = c.mdm.jamf;
  jamf.get("enabled", j.enabled);
  jamf.get("user", j.user);
  jamf.get("password_file", j.password_file);
  jamf.positive("challenge_ttl_seconds", j.challenge_ttl_seconds);
  jamf.get("profile", j.profile);
  jamf.finish();
  j.password_file = resolve(c.base_dir, j.password_file);
  if (!j.enabled) return;
  if (j.user.empty() || j.user.find(':') != std::string::npos)
    jamf.fail_key("user", "must be set and hold no ':' (RFC 7617 §2)");
  if (j.password_file.empty()) jamf.fail_key("password_file", "must be set");
  if (j.challenge_ttl_seconds > 30 * 86400) jamf.fail_key("challenge_ttl_seconds", "must be at most 30 days");
  if (!c.scep.enabled) jamf.fail_key("enabled", "needs [scep] enabled: the challenges are for /scep");
  if (!public_listener_behind_tls(c.http))
    jamf.fail_key("enabled", "needs the public listener reachable only through TLS: it speaks plain HTTP, and Jamf's "
                             "Basic credentials and the challenges it gets must not cross the network in clear; set "
                             "[http] public_url to an https:// URL (TLS terminated by a proxy in front) or [http] bind "
                             "to a loopback address");
}

// The built-in profiles, each overridden or joined by a [profiles.NAME] table; then the
// profile SCEP issues under must be one of them.
void load_profiles(const std::string& path, const toml::table& root, Config& c) {
  c.profiles = ca::default_profiles();
  if (const toml::table* profiles = root["profiles"].as_table()) {
    for (const auto& [name, node] : *profiles) {
      const toml::table* t = node.as_table();
      if (t == nullptr) Section(path, "", &root).fail(node, "profiles." + std::string(name.str()) + " must be a table");
      ca::Profile& p = c.profiles[std::string(name.str())];
      load_profile(path, std::string(name.str()), *t, p);
    }
  }
  if (!c.profiles.count(c.scep.profile))
    Section(path, "scep", root["scep"].as_table()).fail_key("profile", "names no profile in [profiles]");
  const Section jamf(path, "mdm.jamf", root["mdm"]["jamf"].as_table());
  const std::string& jamf_profile = c.mdm.jamf.profile.empty() ? c.scep.profile : c.mdm.jamf.profile;
  if (!c.mdm.jamf.profile.empty() && !c.profiles.count(c.mdm.jamf.profile))
    jamf.fail_key("profile", "names no profile in [profiles]");
  // A request held for approval spends its challenge on a device that exists; a Jamf
  // challenge has none until its certificate is issued.
  // Intune must hear of a certificate before the requester gets it (successNotification),
  // which a request held for an operator would receive later, outside SCEP.
  if (c.mdm.intune.enabled && c.profiles.at(c.scep.profile).manual_approval)
    Section(path, "mdm.intune", root["mdm"]["intune"].as_table())
        .fail_key("enabled", "needs a [scep] profile without manual_approval: Intune is told of each certificate "
                             "before it is sent, which a request waiting for approval cannot be");
  if (c.mdm.jamf.enabled && c.profiles.at(jamf_profile).manual_approval)
    jamf.fail_key("profile", "is '" + jamf_profile + "' (the [scep] profile when unset), which has manual_approval: a " +
                                 "Jamf challenge is bound to no device until its certificate is issued, so it cannot " +
                                 "wait for approval; name a profile without manual_approval");
}

// [service] and the public listener's [http].
void render_service_and_http(std::ostream& o, const ConfigTemplate& t) {
  const std::string http_url = "http://" + t.hostname + ":" + std::to_string(t.http_port);
  o << "[service]\n"
    << "hostname = \"" << t.hostname << "\"        # EAP server certificate name; default URL host\n"
    << "node_name = \"" << t.node_name << "\"   # this node among those sharing a ledger (unique)\n"
    << "heartbeat_seconds = 10             # how often it tells the ledger it is up\n"
    << "log_level = \"info\"                 # trace | debug | info | warn | error\n"
    << "log_format = \"text\"                # text | json (one JSON object a line)\n"
    << "log_file = \"\"                      # empty: stderr\n"
    << "threads = 0                        # I/O threads; 0 = one per core\n"
    << "http_workers = 0                   # public HTTP handler threads (SCEP, OCSP, CRL); 0 = four per I/O thread\n\n"
    << "[http]                             # public listener: /crl, /crl.pem, /ocsp (plain HTTP on purpose)\n"
    << "bind = \"" << t.bind << "\"\n"
    << "port = " << t.http_port << "\n"
    << "max_body_bytes = 1048576           # larger request bodies get 413\n"
    << "public_url = \"" << http_url << "\"  # written into certificates as CRL DP and OCSP URL\n"
    << "max_connections = 512              # open at once; more are closed at accept (and counted)\n"
    << "max_connections_per_address = 64   # of those, from one address (IPv6: one /64)\n"
    << "header_timeout_seconds = 10        # a request's whole header must arrive within this\n\n";
}

// The admin API's listener and its first bearer token.
void render_admin(std::ostream& o, const ConfigTemplate& t) {
  o << "[admin]                            # admin API (/api/v1); the CLI talks to it\n"
    << "bind = \"127.0.0.1\"                 # TLS is forced on for any non-loopback address\n"
    << "port = " << t.admin_port << "\n"
    << "tls = false                        # serve HTTPS with ca/admin.pem even on loopback\n"
    << "token_file = \"admin.token\"         # the CLI reads its bearer token here (0600)\n"
    << "max_body_bytes = 1048576\n"
    << "max_connections = 64               # its own cap: a flood on the public port never takes these\n"
    << "max_connections_per_address = 32   # of those, from one address\n"
    << "header_timeout_seconds = 10        # a request's whole header must arrive within this\n"
    << "workers = 4                        # admin handler threads, apart from the public ones\n\n"
    << "[[admin.tokens]]                   # bearer tokens, stored as SHA-256 only\n"
    << "name = \"admin\"\n"
    << "sha256 = \"" << t.admin_token_sha256 << "\"\n\n";
}

void render_ca_and_ledger(std::ostream& o, const ConfigTemplate& t) {
  o << "[ca]\n"
    << "dir = \"ca\"                         # root.pem, issuing.pem, ra.pem, server.pem and their keys\n"
    << "crl_validity_hours = 24            # CRL nextUpdate = thisUpdate + this\n"
    << "crl_refresh_before_hours = 12      # re-sign the CRL when nextUpdate is nearer than this\n"
    << "ocsp_validity_hours = 1            # OCSP nextUpdate\n\n"
    << "[ledger]\n";
  if (t.ledger_url.empty()) {
    o << "backend = \"sqlite\"                 # the embedded default\n"
      << "path = \"ledger.db\"\n\n";
    return;
  }
  o << "backend = \"postgresql\"             # shared by every node (docs/configuration.md)\n"
    << "url = " << toml::value<std::string>(t.ledger_url) << "\n";
  if (t.ledger_password_file.empty()) {
    o << "# password_file = \"ledger.password\" # else libpq's PGPASSFILE or ~/.pgpass\n\n";
  } else {
    o << "password_file = " << toml::value<std::string>(t.ledger_password_file) << "\n\n";
  }
}

// The RADIUS front end and one NAS entry for the loopback address.
void render_radius(std::ostream& o, const ConfigTemplate& t) {
  o << "[radius]                           # RADIUS front end (EAP-TLS)\n"
    << "bind = \"" << t.bind << "\"\n"
    << "auth_port = " << t.radius_port << "\n"
    << "acct_port = " << (t.radius_port + 1) << "\n"
    << "dynauth_attempts = 3               # RFC 5176 Disconnect/CoA-Request transmissions in all\n"
    << "dynauth_timeout_ms = 1000          # wait for the first answer; doubled for each retransmission\n"
    << "dynauth_max_timeout_ms = 8000      # cap of that doubling\n"
    << "expiry_check_seconds = 30          # how often live sessions are checked for an expired certificate\n"
    << "max_eap_sessions_per_nas = 2000    # EAP conversations in progress one NAS entry may hold\n"
    << "eap_memory_budget_mib = 256        # new EAP conversations are refused past this (docs/configuration.md)\n"
    << "eap_timeout_seconds = 60           # an EAP conversation silent this long is abandoned (an event)\n"
    << "max_live_sessions = 100000         # accounting sessions in memory\n"
    << "acct_stale_intervals = 3           # a session silent this many interim intervals is closed\n"
    << "acct_default_interim_seconds = 3600  # the interval when the NAS announces none\n"
    << "session_retention_days = 30       # stopped sessions kept in the ledger this long\n"
    << "max_session_rows = 1000000         # and at most this many session rows\n"
    << "ledger_queue = 10000               # RADIUS ledger writes waiting for their thread\n\n"
    << "[[radius.clients]]                 # one table per NAS (Wi-Fi controller, VPN gateway)\n"
    << "name = \"loopback\"\n"
    << "address = \"127.0.0.1/32\"           # address or CIDR\n"
    << "secret = \"" << t.radius_secret << "\"\n"
    << "require_message_authenticator = true  # BlastRADIUS (CVE-2024-3596): keep on\n"
    << "coa_port = 3799                    # RFC 5176 Disconnect/CoA port of this NAS\n"
    << "groups = []                        # NAS groups for policy rules (nas_group = [\"campus\"])\n\n";
}

void render_scep_events_policy_metrics(std::ostream& o, const ConfigTemplate& t) {
  o << "[scep]                             # SCEP (RFC 8894) at <public_url>/scep\n"
    << "enabled = true\n"
    << "profile = \"device\"                 # profile for static-challenge enrollments\n"
    << "static_challenge = \"" << t.scep_static_challenge
    << "\"  # shared by every device; empty = one-time challenges only (`portcullis challenge`)\n"
    << "allow_legacy_crypto = false        # single DES + SHA-1; micromdm scepclient 2.1.0 needs it\n"
    << "refusal_rows_per_source_per_minute = 20  # audit rows for refused requests per address (IPv6: /64)\n"
    << "refusal_rows_max = 100000          # refusal rows kept in the audit log; the oldest go\n\n"
    << "[events]                           # decision events: `portcullis events` (docs/events.md)\n"
    << "enabled = true                     # false: no events are made\n"
    << "keep_days = 30                     # events older than this are deleted\n"
    << "max_rows = 5000000                 # and the oldest beyond this many\n"
    << "queue = 20000                      # events waiting for their writer; more are dropped, counted\n\n"
    << "[policy]                           # access rules (docs/policy.md); SIGHUP or POST /api/v1/policy/reload\n"
    << "file = \"\"                          # e.g. \"policy.toml\"; empty = every valid device accepted, no extra attributes\n\n"
    << "[metrics]                          # GET /metrics on the admin listener (Prometheus text format)\n"
    << "allow = [\"127.0.0.1/32\", \"::1/128\"]  # read without the admin token from these; [] = token only\n\n"
    << "[notify]                           # alerts POSTed as JSON to a webhook (docs/operations.md)\n"
    << "webhook_url = \"\"                   # http(s)://…; empty = no alerts\n"
    << "expiry_window_days = 30            # certificates expiring within this are posted, once each\n"
    << "check_interval_hours = 24          # the expiry check, also run at start-up\n"
    << "reject_spike_per_minute = 0        # Access-Rejects per NAS in a minute that make an alert; 0 = off\n\n";
}

// The built-in profiles, written out so that they can be edited in place.
void render_profiles(std::ostream& o) {
  o << "[profiles.device]                  # certificates for devices (EAP-TLS clients)\n"
    << "validity_days = 365\n"
    << "extended_key_usage = [\"clientAuth\"]\n"
    << "allowed_san_types = [\"dns\", \"email\", \"uri\"]   # SAN types a certificate may carry\n"
    << "subject_template = [\"CN={cn}\"]     # the subject; {cn}: the device name or the challenge's --cn\n"
    << "san_templates = []                 # e.g. [\"dns:{device}.corp.example\"]; plus the challenge's --san\n"
    << "min_rsa_bits = 2048\n"
    << "allowed_curves = [\"P-256\", \"P-384\"]\n"
    << "manual_approval = false            # SCEP enrollments wait (PENDING) for `portcullis requests approve`\n"
    << "on_reenroll = \"revoke\"             # a device enrolling again: its earlier certificates revoked (superseded) | keep\n"
    << "renew_before_days = 0              # SCEP renewals only this many days before expiry; 0 = any time\n\n"
    << "[profiles.server]                  # TLS server certificates\n"
    << "validity_days = 730\n"
    << "extended_key_usage = [\"serverAuth\"]\n"
    << "allowed_san_types = [\"dns\", \"ip\"]\n"
    << "subject_template = [\"CN={cn}\"]\n"
    << "san_templates = []\n"
    << "min_rsa_bits = 2048\n"
    << "allowed_curves = [\"P-256\", \"P-384\"]\n";
}

}  // namespace

bool is_loopback_address(const std::string& address) {
  if (address == "localhost" || address == "::1") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

bool Config::admin_tls_effective() const { return admin.tls || !is_loopback_address(admin.bind); }

Config load_config(const std::string& path) {
  Config c;
  c.path = fs::absolute(path).lexically_normal().string();
  c.base_dir = fs::path(c.path).parent_path().string();
  const toml::table root = parse_toml(path);
  check_sections(path, root);
  load_service(path, root, c);
  load_http(path, root, c);
  load_admin(path, root, c);
  load_ca(path, root, c);
  load_ledger(path, root, c);
  load_radius(path, root, c);
  load_radsec(path, root, c);
  load_scep(path, root, c);
  load_events(path, root, c);
  load_policy(path, root, c);
  load_metrics_and_notify(path, root, c);
  load_mdm(path, root, c);
  load_profiles(path, root, c);
  return c;
}

std::string render_config(const ConfigTemplate& t) {
  std::ostringstream o;
  o << "# Portcullis configuration, written by `portcullis init`.\n"
    << "# Relative paths are relative to this file's folder. This file holds the RADIUS\n"
    << "# shared secrets: keep it 0600. Reload with SIGHUP (log level, admin tokens, CRL,\n"
    << "# RADIUS clients, policy rules).\n\n";
  render_service_and_http(o, t);
  render_admin(o, t);
  render_ca_and_ledger(o, t);
  render_radius(o, t);
  render_scep_events_policy_metrics(o, t);
  render_profiles(o);
  return o.str();
}

}  // namespace portcullis::app
