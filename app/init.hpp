// `portcullis init`, `portcullis ca install-cert` and `portcullis ca rollover`: create a
// data folder with its config, CA material, admin token and ledger, and stage the next CA.
#pragma once

#include "ca/authority.hpp"

#include <cstdint>
#include <string>

namespace portcullis::app {

struct InitOptions {
  std::string dir;
  std::uint16_t http_port = 8080;
  std::uint16_t admin_port = 8443;
  std::uint16_t radius_port = 1812;     // accounting on radius_port + 1
  std::string bind = "127.0.0.1";
  std::string hostname = "localhost";
  std::string node_name;                // [service] node_name; empty: this machine's hostname
  ca::KeyType key_type = ca::KeyType::ec_p256;
  // An enterprise issuing CA: all three set, or none.
  std::string import_issuing_cert, import_issuing_key, import_chain;
  // Generate the issuing CA key and a CSR for a corporate root to sign.
  bool external_root = false;
  // The PostgreSQL ledger (a libpq url without a password) instead of the SQLite
  // ledger.db, and the file holding its password (empty: PGPASSFILE / ~/.pgpass).
  std::string ledger_url;
  std::string ledger_password_file;
  // `--join A`: a second node on A's PostgreSQL ledger (app/join.hpp) instead of a new CA.
  std::string join;
};

struct InitSummary {
  std::string config_path, ca_dir, ledger_path, token_file;
  bool ca_pending = false;              // external_root: waiting for `ca install-cert`
};

// Refuses an existing `dir`; on failure removes what it created, so nothing is half-made.
InitSummary run_init(const InitOptions& options);

// Completes an external-root CA: the signed issuing certificate and its chain.
void run_install_issuing_cert(const std::string& config_path, const std::string& cert_path,
                              const std::string& chain_path);

// `portcullis ca rollover stage`: the next issuing CA (RFC 8894 §4.7 GetNextCACert), made
// by our root, or given by an enterprise root as cert + key + chain (all three or none).
// Returns the staged CA's subject. Audited.
struct RolloverImport {
  std::string cert, key, chain;
};
std::string run_stage_rollover(const std::string& config_path, const RolloverImport& import);
void run_discard_rollover(const std::string& config_path);
// Current and staged issuing CA: subject, validity, SHA-256 fingerprint.
std::string rollover_status(const std::string& config_path);

}  // namespace portcullis::app
