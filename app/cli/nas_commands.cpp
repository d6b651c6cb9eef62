// `portcullis nas certificate --name N --out DIR`: the key is made here and never leaves this
// machine; only its CSR goes to the admin API, which issues it in the `nas` profile through
// the one issuance path (ledger row, audit, revocable, answered by OCSP). What a NAS needs
// for RadSec (RFC 6614 §2.3) is written to DIR: its certificate with our intermediates, its
// key (0600), and our root to verify the server.
#include "app/cli/nas_commands.hpp"

#include "app/cli/admin_client.hpp"
#include "app/cli/output.hpp"
#include "app/config.hpp"
#include "ca/authority.hpp"
#include "ca/keys.hpp"
#include "ca/profile.hpp"
#include "ca/x509.hpp"

#include <filesystem>
#include <iostream>
#include <memory>

namespace portcullis::app {
namespace {

struct NasCertificateArgs {
  std::string name, out;
  std::vector<std::string> sans;
};

// A CSR carries only the public key: the issuer takes the names from the profile and the
// operator, never from the request.
std::string csr_for(EVP_PKEY* key) {
  ca::X509ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1 ||
      X509_REQ_sign(req.get(), key, ca::digest_for_key(key)) <= 0)
    throw CliError("cannot make a certificate request");
  return ca::csr_to_pem(req.get());
}

// Our intermediates (the chain without its self-signed root), PEM, after the certificate:
// the NAS sends them in its Certificate message (RFC 8446 §4.4.2).
std::string intermediates_pem(const ca::CaPaths& paths) {
  std::string out;
  for (const auto& cert : ca::certs_from_pem(ca::read_file(paths.chain())))
    if (X509_check_issued(cert.get(), cert.get()) != X509_V_OK) out += ca::cert_to_pem(cert.get());
  return out;
}

int run_nas_certificate(const CliContext& ctx, const NasCertificateArgs& args) {
  const Config config = load_config(resolve_config_path(ctx.config_path));
  const ca::CaPaths paths{config.ca.dir};
  const std::filesystem::path dir(args.out);
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec))
    throw CliError("--out " + args.out + " is not a folder");
  const std::string cert_path = (dir / (args.name + ".pem")).string();
  const std::string key_path = (dir / (args.name + ".key")).string();
  const std::string ca_path = (dir / "ca.pem").string();
  // Checked before anything is issued: a run that cannot write its files leaves no
  // certificate behind that nobody holds the key of.
  for (const auto& p : {cert_path, key_path})
    if (std::filesystem::exists(p, ec)) throw CliError(p + " exists; remove it or choose another --out");
  const std::string root = ca::read_file(paths.root());
  const std::string chain = intermediates_pem(paths);

  std::filesystem::create_directories(dir, ec);
  if (ec) throw CliError("cannot create --out " + args.out + ": " + ec.message());

  ca::EvpPkeyPtr key = ca::generate_key(ca::KeyType::ec_p256);
  nlohmann::json body = {
      {"csr", csr_for(key.get())}, {"device", args.name}, {"profile", ca::kNasProfile}, {"create_device", true}};
  if (!args.sans.empty()) body["sans"] = args.sans;
  AdminClient client(config);
  const nlohmann::json result = client.post("/certificates", body);

  ca::write_file(key_path, ca::key_to_pem(key.get()), 0600);
  ca::write_file(cert_path, result.at("certificate").get<std::string>() + chain);
  ca::write_file(ca_path, root);
  if (ctx.json) {
    std::cout << nlohmann::json{{"serial", result.at("serial")},
                                {"certificate", cert_path},
                                {"key", key_path},
                                {"ca", ca_path}}
                     .dump(2)
              << '\n';
  } else {
    std::cout << "issued NAS certificate " << cell_text(result.at("serial")) << " for " << args.name << "\n"
              << "  certificate  " << cert_path << "  (with our intermediates)\n"
              << "  key          " << key_path << "  (0600)\n"
              << "  CA           " << ca_path << "  (our root: the NAS verifies the server with it)\n";
  }
  return 0;
}

// GET /api/v1/nas as a table: one row a client, its counters flattened into columns.
int run_nas_list(const CliContext& ctx) {
  AdminClient client(load_config(resolve_config_path(ctx.config_path)));
  const nlohmann::json body = client.get("/nas");
  if (ctx.json) {
    std::cout << body.dump(2) << '\n';
    return 0;
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& nas : body.at("nas")) {
    nlohmann::json row = nas;
    for (const auto& [name, value] : nas.at("counters").items()) row[name] = value;
    if (row["last_seen"].is_null()) row["last_seen"] = "never";
    rows.push_back(std::move(row));
  }
  print_table(std::cout, rows,
              {{"NAME", "name"},           {"TRANSPORT", "transport"}, {"ADDRESS", "address"},
               {"GROUPS", "groups"},       {"LAST SEEN", "last_seen"}, {"REQUESTS", "requests"},
               {"ACCEPTS", "accepts"},     {"REJECTS", "rejects"},     {"DROPPED", "dropped"},
               {"ACCOUNTING", "accounting"}, {"CONNECTIONS", "connections"}});
  return 0;
}

}  // namespace

void add_nas_commands(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto* nas = app.add_subcommand("nas", "NAS clients: their list and counters; certificates for RadSec (RADIUS over TLS)");
  nas->require_subcommand(1);
  auto args = std::make_shared<NasCertificateArgs>();
  auto* cert = nas->add_subcommand("certificate", "Issue a NAS certificate and key (profile nas) into a folder");
  cert->add_option("--name", args->name, "The NAS name: its device in the ledger and the certificate's CN")->required();
  cert->add_option("--out", args->out, "Folder for NAME.pem, NAME.key (0600) and ca.pem; created if missing")
      ->required();
  cert->add_option("--san", args->sans, "A SAN the certificate carries: dns:NAME or ip:ADDR (repeatable)");
  cert->footer(examples({"portcullis nas certificate --name wlc-1 --out nas-certs"}));
  cert->callback([&, args] { action = [&, args] { return run_nas_certificate(ctx, *args); }; });
  auto* list = nas->add_subcommand("list", "NAS clients: transport, last seen and counters since the service started");
  list->footer(examples({"portcullis nas list", "portcullis nas list --json"}));
  list->callback([&] { action = [&] { return run_nas_list(ctx); }; });
}

}  // namespace portcullis::app
