#include "app/init.hpp"

#include "app/admin/json.hpp"
#include "app/config.hpp"
#include "app/ledger_open.hpp"
#include "app/secrets.hpp"
#include "ca/identity_index.hpp"
#include "ca/keys.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/ledger/postgres_setup.hpp"
#include "ca/registry.hpp"
#include "ca/x509.hpp"

#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <optional>
#include <stdexcept>

namespace portcullis::app {
namespace {

namespace fs = std::filesystem;

ca::BootstrapOptions bootstrap_options(const std::string& ca_dir, const std::string& hostname,
                                       const std::string& public_url, ca::KeyType key_type) {
  ca::BootstrapOptions b;
  b.ca_dir = ca_dir;
  b.key_type = key_type;
  b.hostname = hostname;
  b.crl_url = public_url + "/crl";
  b.ocsp_url = public_url + "/ocsp";
  return b;
}

// The ledger a CA change issues the service certificates into. The index is this
// command's own: a running service loads the ledger's at its next start.
struct LedgerSession {
  std::unique_ptr<ca::Ledger> ledger;
  ca::IdentityIndex index;
  ca::Registry registry;
  explicit LedgerSession(const LedgerSettings& settings) : ledger(open_ledger(settings)), registry(*ledger, index) {}
};

void audit_ca_change(const Config& config, const char* action, const std::string& detail) {
  auto ledger = open_ledger(config.ledger);
  ca::AuditEntry audit;
  audit.at = ca::now_unix();
  audit.actor = "cli";
  audit.action = action;
  audit.target = config.service.hostname;
  audit.detail = detail;
  ledger->append_audit(audit);
}

// What a failed init must take back from a PostgreSQL ledger: the tables it created, or,
// in tables that were there before (empty of certificates), what it wrote.
struct LedgerUndo {
  std::optional<ca::PostgresLedgerOptions> created;    // the database had no ledger tables
  std::optional<LedgerSettings> existing;              // it had them, and no certificate
};

// "" when nothing is left behind; else what is, and how to clean it.
std::string undo_ledger(const LedgerUndo& undo) {
  if (undo.created) {
    try {
      ca::drop_postgres_ledger(*undo.created);
      return "";
    } catch (const std::exception& e) {
      return std::string("; the ledger tables it created in ") + undo.created->url + " are still there (" + e.what() +
             "): drop them, or the database, before running init again";
    }
  }
  if (!undo.existing) return "";
  try {
    const std::size_t left = open_ledger(*undo.existing)->certificate_count();
    if (left == 0) return "";
    return "; the ledger at " + undo.existing->url + " keeps the " + std::to_string(left) +
           " certificates this init issued before it failed: drop its tables, or the database, before running "
           "init again";
  } catch (const std::exception& e) {
    return "; the ledger at " + undo.existing->url + " may keep certificates this init issued (" + e.what() + ")";
  }
}

void make_private_dir(const fs::path& dir) {
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
}

void create(const InitOptions& o, const fs::path& dir, InitSummary& summary, LedgerUndo& undo) {
  make_private_dir(dir);
  const fs::path ca_dir = dir / "ca";
  make_private_dir(ca_dir);

  const std::string public_url = "http://" + o.hostname + ":" + std::to_string(o.http_port);
  const ca::BootstrapOptions b = bootstrap_options(ca_dir.string(), o.hostname, public_url, o.key_type);
  const bool importing = !o.import_issuing_cert.empty();
  LedgerSettings ledger;
  if (o.ledger_url.empty()) {
    ledger.path = (dir / "ledger.db").string();
  } else {
    ledger.backend = "postgresql";
    ledger.url = o.ledger_url;
    ledger.password_file = o.ledger_password_file.empty() ? std::string() : fs::absolute(o.ledger_password_file).string();
    const ca::PostgresLedgerOptions where = postgres_options(ledger);
    if (!ca::postgres_ledger_exists(where)) undo.created = where;
  }
  LedgerSession session(ledger);
  // A shared ledger holds one CA's certificates: a second `init` on it would mix two CAs
  // (a node joining an existing ledger shares its CA instead).
  if (session.ledger->certificate_count() != 0)
    throw std::runtime_error("the ledger at " + ledger_location(ledger) +
                             " already holds certificates of a CA; init needs an empty database");
  if (!o.ledger_url.empty() && !undo.created) undo.existing = ledger;
  if (importing)
    ca::bootstrap_imported_ca(b, session.registry, o.import_issuing_cert, o.import_issuing_key, o.import_chain);
  else if (o.external_root)
    ca::bootstrap_pending_ca(b);
  else
    ca::bootstrap_new_ca(b, session.registry);

  const std::string token = generate_secret(32);
  ca::write_file((dir / "admin.token").string(), token + "\n", 0600);

  ConfigTemplate t;
  t.hostname = o.hostname;
  t.node_name = o.node_name.empty() ? machine_hostname() : o.node_name;
  t.bind = o.bind;
  t.http_port = o.http_port;
  t.admin_port = o.admin_port;
  t.radius_port = o.radius_port;
  t.admin_token_sha256 = sha256_hex(token);
  // 128 bits each, 32 hex digits: both are typed into other systems (a NAS's RADIUS client
  // form, an MDM's SCEP payload), which take hex where they may refuse or misread
  // punctuation (a base64url secret starting with '-' is an option to radclient).
  t.radius_secret = generate_hex_secret(16);
  t.scep_static_challenge = generate_hex_secret(16);
  t.ledger_url = ledger.url;
  t.ledger_password_file = ledger.password_file;
  // 0600: the file holds the RADIUS shared secrets.
  ca::write_file((dir / "portcullis.toml").string(), render_config(t), 0600);

  ca::AuditEntry audit;
  audit.at = ca::now_unix();
  audit.actor = "cli";
  audit.action = "ca.init";
  audit.target = o.hostname;
  audit.detail = std::string(importing ? "imported issuing CA" : o.external_root ? "issuing CA pending" : "new CA") +
                 ", key type " + ca::to_string(o.key_type);
  session.ledger->append_audit(audit);

  summary.config_path = (dir / "portcullis.toml").string();
  summary.ca_dir = ca_dir.string();
  summary.ledger_path = ledger_location(ledger);
  summary.token_file = (dir / "admin.token").string();
  summary.ca_pending = o.external_root && !importing;
}

}  // namespace

InitSummary run_init(const InitOptions& o) {
  if (o.dir.empty()) throw std::invalid_argument("--dir is required");
  const bool some_import = !o.import_issuing_cert.empty() || !o.import_issuing_key.empty() || !o.import_chain.empty();
  const bool all_import = !o.import_issuing_cert.empty() && !o.import_issuing_key.empty() && !o.import_chain.empty();
  if (some_import && !all_import)
    throw std::invalid_argument("--issuing-cert, --issuing-key and --issuing-chain go together");
  if (some_import && o.external_root) throw std::invalid_argument("--external-root and --issuing-cert exclude each other");
  if (o.radius_port == 65535) throw std::invalid_argument("--radius-port must leave room for accounting (port + 1)");

  const fs::path dir = fs::absolute(o.dir).lexically_normal();
  if (fs::exists(dir)) throw std::runtime_error("refusing to touch existing " + dir.string() + ": init needs a new folder");
  InitSummary summary;
  LedgerUndo undo;
  try {
    create(o, dir, summary, undo);
  } catch (const std::exception& e) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
    const std::string left = undo_ledger(undo);
    if (left.empty()) throw;
    throw std::runtime_error(e.what() + left);
  }
  return summary;
}

void run_install_issuing_cert(const std::string& config_path, const std::string& cert_path,
                              const std::string& chain_path) {
  const Config config = load_config(config_path);
  ca::CaPaths paths{config.ca.dir};
  if (!ca::ca_is_pending(paths)) throw std::runtime_error("the CA in " + config.ca.dir + " is not waiting for a certificate");
  LedgerSession session(config.ledger);
  ca::install_issuing_certificate(
      bootstrap_options(config.ca.dir, config.service.hostname, config.http.public_url, ca::KeyType::ec_p256),
      session.registry, cert_path, chain_path);
  audit_ca_change(config, "ca.install-cert", "issuing CA certificate installed");
}

std::string run_stage_rollover(const std::string& config_path, const RolloverImport& import) {
  const Config config = load_config(config_path);
  const ca::CaPaths paths{config.ca.dir};
  // The staged server and admin certificates get the key type the current server
  // certificate has (read from the certificate: no private key is needed for that).
  const ca::X509Ptr server = ca::cert_from_pem(ca::read_file(paths.server()));
  const EVP_PKEY* server_key = X509_get0_pubkey(server.get());
  if (server_key == nullptr) throw std::runtime_error("cannot read the public key of " + paths.server());
  ca::BootstrapOptions b = bootstrap_options(config.ca.dir, config.service.hostname, config.http.public_url,
                                             ca::key_type_of(server_key));
  LedgerSession session(config.ledger);
  if (import.cert.empty())
    ca::stage_rollover(b, session.registry);
  else
    ca::stage_imported_rollover(b, session.registry, import.cert, import.key, import.chain);
  const ca::Authority staged = *ca::Authority::load_staged(paths);
  const std::string subject = ca::subject_string(staged.issuing());
  audit_ca_change(config, "ca.rollover.stage",
                  "next issuing CA staged: " + subject + " sha256 " + ca::sha256_fingerprint_hex(staged.issuing()));
  return subject;
}

void run_discard_rollover(const std::string& config_path) {
  const Config config = load_config(config_path);
  const ca::CaPaths paths{config.ca.dir};
  if (!ca::rollover_is_staged(paths)) throw std::runtime_error("no CA rollover is staged in " + config.ca.dir);
  // The staged CA's service certificates were issued into the ledger: revoked with it, so
  // that nothing it signed stays valid once its files are gone.
  LedgerSession session(config.ledger);
  const ca::CaPaths staged = ca::staged_ca_paths(paths);
  for (const std::string& file : {staged.ra(), staged.server(), staged.admin()}) {
    const ca::X509Ptr cert = ca::cert_from_pem(ca::read_file(file));
    try {
      session.registry.revoke(ca::serial_hex(cert.get()), ca::RevocationReason::cessation_of_operation,
                              ca::now_unix(), "cli");
    } catch (const ca::LedgerNotFound&) {
      // staged by a version that did not record service certificates: nothing to revoke
    }
  }
  ca::discard_rollover(paths);
  audit_ca_change(config, "ca.rollover.discard", "staged next issuing CA removed");
}

std::string rollover_status(const std::string& config_path) {
  const Config config = load_config(config_path);
  const ca::CaPaths paths{config.ca.dir};
  auto describe = [](const char* label, const X509* cert) {
    return std::string(label) + ": " + ca::subject_string(cert) + "\n  valid " +
           admin::iso8601(ca::not_before_unix(cert)) + " .. " + admin::iso8601(ca::not_after_unix(cert)) +
           "\n  sha256 " + ca::sha256_fingerprint_hex(cert) + "\n";
  };
  const ca::Authority current = ca::Authority::load(paths);
  std::string out = describe("current issuing CA", current.issuing());
  if (const auto staged = ca::Authority::load_staged(paths)) {
    out += describe("staged next issuing CA", staged->issuing());
    out += "offered through SCEP GetNextCACert once the service has reloaded (SIGHUP or restart)\n";
  } else {
    out += "no CA rollover staged\n";
  }
  return out;
}

}  // namespace portcullis::app
