#include "app/cli/cli.hpp"

#include "app/cli/admin_client.hpp"
#include "app/cli/admin_commands.hpp"
#include "app/cli/output.hpp"
#include "app/cli/overview.hpp"
#include "app/cli/policy_commands.hpp"
#include "app/cli/events_commands.hpp"
#include "app/cli/nas_commands.hpp"
#include "app/cli/node_commands.hpp"
#include "app/cli/ledger_commands.hpp"
#include "app/cli/scep_commands.hpp"
#include "app/config.hpp"
#include "app/init.hpp"
#include "app/join.hpp"
#include "app/service.hpp"

#include <CLI/CLI.hpp>
#include <openssl/crypto.h>

#include <iostream>
#include <memory>

namespace portcullis::app {
namespace {

constexpr const char* kVersion = "portcullis " PORTCULLIS_VERSION;

void print_init_summary(const InitSummary& s, const InitOptions& o) {
  std::cout << "Portcullis initialised in " << o.dir << "\n"
            << "  config        " << s.config_path << "  (holds the RADIUS secret, 0600)\n"
            << "  CA material   " << s.ca_dir << "  (root.pem, issuing.pem, ra.pem, server.pem; keys 0600)\n"
            << "  ledger        " << s.ledger_path << "\n"
            << "  admin token   " << s.token_file << "  (the CLI reads it; 0600)\n";
  if (s.ca_pending)
    std::cout << "\nThe issuing CA is waiting for its certificate: have your root CA sign\n  " << s.ca_dir
              << "/issuing.csr\nthen run: portcullis ca install-cert --config " << s.config_path
              << " --cert ISSUING.pem --chain CHAIN.pem\n";
  else
    std::cout << "\nStart it with: portcullis serve --config " << s.config_path << "\n";
}

// Parsed arguments live on the heap so the callbacks that run after parsing can see them.
struct InitArgs {
  InitOptions options;
  std::string key_type = "ec-p256";
};

void add_init_command(CLI::App& app, std::function<int()>& action) {
  auto args = std::make_shared<InitArgs>();
  InitOptions& init = args->options;
  auto* cmd = app.add_subcommand("init", "Create a data folder: config, CA, ledger, admin token");
  cmd->add_option("--dir", init.dir, "New folder to create (refused if it exists)")->required();
  cmd->add_option("--http-port", init.http_port, "Public HTTP port (/crl, /ocsp)")->capture_default_str();
  cmd->add_option("--admin-port", init.admin_port, "Admin API port")->capture_default_str();
  cmd->add_option("--radius-port", init.radius_port, "RADIUS auth port (accounting = +1)")->capture_default_str();
  cmd->add_option("--bind", init.bind, "Address for the public and RADIUS listeners")->capture_default_str();
  cmd->add_option("--hostname", init.hostname, "Name in the server certificate and URLs")->capture_default_str();
  cmd->add_option("--key-type", args->key_type, "CA key type")
      ->check(CLI::IsMember({"ec-p256", "ec-p384", "rsa2048", "rsa3072"}))
      ->capture_default_str();
  cmd->add_option("--issuing-cert", init.import_issuing_cert, "Import an existing issuing CA: its certificate");
  cmd->add_option("--issuing-key", init.import_issuing_key, "… its private key (PEM)");
  cmd->add_option("--issuing-chain", init.import_chain, "… its chain up to the root (PEM)");
  cmd->add_flag("--external-root", init.external_root,
                "Generate the issuing CA key and a CSR for your corporate root to sign");
  auto* ledger = cmd->add_option("--ledger", init.ledger_url,
                                 "PostgreSQL ledger instead of SQLite: postgresql://user@host:port/db (no password)");
  cmd->add_option("--ledger-password-file", init.ledger_password_file,
                  "File whose first line is the PostgreSQL password (default: PGPASSFILE, ~/.pgpass)")
      ->needs(ledger);
  cmd->add_option("--node-name", init.node_name,
                  "This node's name among those sharing a ledger (default: this machine's hostname, "
                  "which a node joining another on the same machine cannot take)")
      ->check([](const std::string& name) {
        try {
          check_node_name(name);
          return std::string();
        } catch (const std::invalid_argument& e) {
          return std::string("--node-name ") + e.what();
        }
      });
  cmd->add_option("--join", init.join,
                  "Data folder of a node on a PostgreSQL ledger: make another node of it (same CA, NAS table, "
                  "ledger) on these ports")
      ->excludes(ledger)
      ->excludes("--external-root")
      ->excludes("--issuing-cert");
  cmd->footer(examples({"portcullis init --dir portcullis-data --hostname radius.corp.example",
                        "portcullis init --dir portcullis-ext --external-root"}));
  cmd->callback([&action, args] {
    action = [args] {
      args->options.key_type = ca::parse_key_type(args->key_type);
      print_init_summary(args->options.join.empty() ? run_init(args->options) : run_join(args->options),
                         args->options);
      return 0;
    };
  });
}

void add_serve_command(CLI::App& app, const CliContext& ctx, std::function<int()>& action) {
  auto* serve = app.add_subcommand("serve", "Run the service until SIGTERM/SIGINT (SIGHUP reloads)");
  serve->callback([&] { action = [&] { return run_service(resolve_config_path(ctx.config_path)); }; });
}

// CA rollover, first half (RFC 8894 §4.7): stage the next issuing CA for GetNextCACert.
void add_rollover_commands(CLI::App& ca_cmd, const CliContext& ctx, std::function<int()>& action) {
  auto* rollover = ca_cmd.add_subcommand("rollover", "Stage the next issuing CA (offered through SCEP GetNextCACert)");
  rollover->require_subcommand(1);
  auto import = std::make_shared<RolloverImport>();
  auto* stage = rollover->add_subcommand(
      "stage", "Make the next issuing CA under our root, or stage one your root signed (--cert --key --chain)");
  auto* cert = stage->add_option("--cert", import->cert, "Next issuing CA certificate (PEM)")->check(CLI::ExistingFile);
  auto* key = stage->add_option("--key", import->key, "Its private key (unencrypted PEM)")->check(CLI::ExistingFile);
  auto* chain = stage->add_option("--chain", import->chain, "Chain up to the root (PEM)")->check(CLI::ExistingFile);
  cert->needs(key, chain);
  key->needs(cert, chain);
  chain->needs(cert, key);
  stage->callback([&, import] {
    action = [&, import] {
      const std::string subject = run_stage_rollover(resolve_config_path(ctx.config_path), *import);
      std::cout << "staged next issuing CA " << subject
                << "; send the service SIGHUP (or restart it) to offer it through GetNextCACert\n";
      return 0;
    };
  });
  rollover->add_subcommand("status", "Show the current and the staged issuing CA")->callback([&] {
    action = [&] {
      std::cout << rollover_status(resolve_config_path(ctx.config_path));
      return 0;
    };
  });
  rollover->add_subcommand("discard", "Remove the staged issuing CA")->callback([&] {
    action = [&] {
      run_discard_rollover(resolve_config_path(ctx.config_path));
      std::cout << "staged CA rollover removed; send the service SIGHUP to stop offering it\n";
      return 0;
    };
  });
}

void add_ca_commands(CLI::App& app, const CliContext& ctx, std::function<int()>& action) {
  auto* ca_cmd = app.add_subcommand("ca", "CA maintenance");
  ca_cmd->require_subcommand(1);
  auto paths = std::make_shared<std::pair<std::string, std::string>>();  // certificate, chain
  auto* install = ca_cmd->add_subcommand("install-cert", "Install the issuing CA certificate signed by your root");
  install->add_option("--cert", paths->first, "Signed issuing CA certificate (PEM)")
      ->required()
      ->check(CLI::ExistingFile);
  install->add_option("--chain", paths->second, "Chain up to the root (PEM)")->required()->check(CLI::ExistingFile);
  install->callback([&, paths] {
    action = [&, paths] {
      run_install_issuing_cert(resolve_config_path(ctx.config_path), paths->first, paths->second);
      std::cout << "issuing CA certificate installed; the RA, server and admin certificates were issued under it\n";
      return 0;
    };
  });
  add_rollover_commands(*ca_cmd, ctx, action);
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"Portcullis: device certificates over SCEP and EAP-TLS over RADIUS, one ledger"};
  // No subcommand: the overview (where the config is, whether the service runs, what next).
  app.require_subcommand(0, 1);
  // --config and --json belong to the top level but may come after any subcommand, at any
  // depth (`portcullis devices list --config F --json`), as users type them: an option a
  // subcommand does not know falls through to its parent. Set before the subcommands are
  // added, which inherit it.
  app.fallthrough();
  app.set_version_flag("--version", kVersion);
  CliContext ctx;
  app.add_option("--config", ctx.config_path, "Config file (default: $PORTCULLIS_CONFIG, ./portcullis.toml, "
                                              "/etc/portcullis/portcullis.toml)");
  app.add_flag("--json", ctx.json, "Print JSON instead of tables");
  std::function<int()> action;

  add_init_command(app, action);
  add_serve_command(app, ctx, action);
  add_ca_commands(app, ctx, action);
  add_admin_commands(app, ctx, action);
  add_scep_commands(app, ctx, action);
  add_policy_commands(app, ctx, action);
  add_events_commands(app, ctx, action);
  add_nas_commands(app, ctx, action);
  add_node_commands(app, ctx, action);
  add_ledger_commands(app, ctx, action);

  // Set last: a subcommand inherits the footer its parent has when it is added.
  app.footer(examples({"portcullis", "portcullis devices list --config /etc/portcullis/portcullis.toml",
                       "portcullis certs list --status valid --json"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return action ? action() : print_overview(std::cout, ctx, kVersion);
  } catch (const std::exception& e) {
    std::cerr << "portcullis: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace portcullis::app
