#include "app/cli/admin_commands.hpp"

#include "app/cli/admin_client.hpp"
#include "app/http/url.hpp"
#include "app/cli/output.hpp"
#include "app/cli/scep_commands.hpp"
#include "app/config.hpp"
#include "ca/x509.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

namespace portcullis::app {
namespace {

// Parsed arguments live on the heap so the callbacks that run after parsing can see them.
struct NewDeviceArgs {
  std::string name, display_name, owner;
  std::vector<std::string> groups;
};
struct DeviceListArgs {
  std::string search;
  bool only_enabled = false, only_disabled = false;
  int limit = 1000;
};
struct CertListArgs {
  std::string device, status, expiring_before, expiring_within;
  int limit = 1000;
};
struct RevokeArgs {
  std::string serial, device, reason, devices_from;
};

// One device id or name a line; blank lines and lines starting with '#' are skipped.
std::vector<std::string> read_device_list(const std::string& path) {
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file) throw CliError("cannot read " + path);
  }
  std::istream& in = path == "-" ? std::cin : file;
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    const auto e = line.find_last_not_of(" \t\r");
    out.push_back(line.substr(b, e - b + 1));
  }
  if (out.empty()) throw CliError("no device in " + (path == "-" ? std::string("stdin") : path));
  return out;
}
struct SessionArgs {
  bool all = false;
  int limit = 100;
  std::string disconnect_id;
};
struct IssueArgs {
  std::string csr_file, device, profile = "device", cn;
  std::vector<std::string> sans;
};

const std::vector<Column> kDeviceColumns = {{"ID", "id"},         {"NAME", "name"},   {"OWNER", "owner"},
                                            {"GROUPS", "groups"}, {"ENABLED", "enabled"}};
const std::vector<Column> kCertColumns = {{"SERIAL", "serial"},     {"DEVICE", "device"}, {"PROFILE", "profile"},
                                          {"STATUS", "status"},     {"NOT AFTER", "not_after"},
                                          {"SUBJECT", "subject"}};

const std::vector<Column> kSessionColumns = {{"ID", "id"},
                                             {"NAS", "nas"},
                                             {"SESSION", "acct_session_id"},
                                             {"SSID", "ssid"},
                                             {"CALLING STATION", "calling_station_id"},
                                             {"USER", "user_name"},
                                             {"SERIAL", "serial"},
                                             {"DEVICE", "device"},
                                             {"STARTED", "started_at"},
                                             {"UPDATED", "updated_at"},
                                             {"STOPPED", "stopped_at"},
                                             {"DISCONNECT/COA", "dynauth"}};

void emit(const CliContext& ctx, const nlohmann::json& value, const std::vector<Column>* columns) {
  if (ctx.json)
    std::cout << value.dump(2) << '\n';
  else if (columns != nullptr)
    print_table(std::cout, value, *columns);
  else
    print_record(std::cout, value);
}

AdminClient client_for(const CliContext& ctx) { return AdminClient(load_config(resolve_config_path(ctx.config_path))); }

// Accepts a numeric id or a name and returns the device object.
nlohmann::json find_device(AdminClient& client, const std::string& id_or_name) {
  return client.get("/devices/" + url_encode(id_or_name));
}

std::string device_id(const nlohmann::json& device) { return std::to_string(device.at("id").get<std::int64_t>()); }

// The API lists its rows under a key ("devices", "certificates", …) or as a bare array.
nlohmann::json rows_of(const nlohmann::json& body, const char* key) {
  if (body.is_object() && body.contains(key)) return body[key];
  return body;
}

}  // namespace

ConfigLocation locate_config(const std::string& given) {
  if (!given.empty()) return {given, "--config"};
  if (const char* env = std::getenv("PORTCULLIS_CONFIG"); env != nullptr && *env != '\0')
    return {env, "$PORTCULLIS_CONFIG"};
  if (std::filesystem::exists("portcullis.toml")) return {"portcullis.toml", "./portcullis.toml"};
  return {"/etc/portcullis/portcullis.toml", "default"};
}

std::string resolve_config_path(const std::string& given) { return locate_config(given).path; }

namespace {

void add_device_add_and_list(CLI::App& devices, CliContext& ctx, std::function<int()>& action) {
  auto add = std::make_shared<NewDeviceArgs>();
  auto* dev_add = devices.add_subcommand("add", "Create a device");
  dev_add->add_option("name", add->name, "Unique device name")->required();
  dev_add->add_option("--display-name", add->display_name, "Human-readable name");
  dev_add->add_option("--owner", add->owner, "Owner (person or team)");
  dev_add->add_option("--group", add->groups, "Group or tag (repeatable)");
  dev_add->footer(examples({"portcullis devices add laptop-8 --owner ana --group staff --group byod"}));
  dev_add->callback([&, add] {
    action = [&, add] {
      auto client = client_for(ctx);
      nlohmann::json body = {{"name", add->name}, {"display_name", add->display_name}, {"owner", add->owner},
                             {"groups", add->groups}};
      emit(ctx, client.post("/devices", body), nullptr);
      return 0;
    };
  });

  auto list = std::make_shared<DeviceListArgs>();
  auto* dev_list = devices.add_subcommand("list", "List devices");
  dev_list->add_option("--search", list->search, "Substring of name, display name or owner");
  dev_list->add_flag("--enabled", list->only_enabled, "Only enabled devices");
  dev_list->add_flag("--disabled", list->only_disabled, "Only disabled devices");
  dev_list->add_option("--limit", list->limit, "At most this many rows");
  dev_list->footer(examples({"portcullis devices list --search ana --enabled"}));
  dev_list->callback([&, list] {
    action = [&, list] {
      auto client = client_for(ctx);
      std::string q = "/devices?limit=" + std::to_string(list->limit);
      if (!list->search.empty()) q += "&search=" + url_encode(list->search);
      if (list->only_enabled != list->only_disabled) q += list->only_enabled ? "&enabled=true" : "&enabled=false";
      emit(ctx, rows_of(client.get(q), "devices"), &kDeviceColumns);
      return 0;
    };
  });
}

void add_device_show_and_toggle(CLI::App& devices, CliContext& ctx, std::function<int()>& action) {
  auto target = std::make_shared<std::string>();
  auto* dev_show = devices.add_subcommand("show", "Show a device and its certificates");
  dev_show->add_option("device", *target, "Device id or name")->required();
  dev_show->callback([&, target] {
    action = [&, target] {
      auto client = client_for(ctx);
      nlohmann::json device = find_device(client, *target);
      emit(ctx, device, nullptr);
      if (!ctx.json && device.contains("certificates")) {
        std::cout << '\n';
        print_table(std::cout, device["certificates"], kCertColumns);
      }
      return 0;
    };
  });

  for (const char* verb : {"disable", "enable"}) {
    auto* cmd = devices.add_subcommand(verb, std::string(verb) + " a device (effective at once)");
    cmd->add_option("device", *target, "Device id or name")->required();
    cmd->callback([&, target, verb] {
      action = [&, target, verb] {
        auto client = client_for(ctx);
        const std::string id = device_id(find_device(client, *target));
        emit(ctx, client.post("/devices/" + id + "/" + verb, nlohmann::json::object()), nullptr);
        return 0;
      };
    });
  }
}

void add_cert_commands(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto* certs = app.add_subcommand("certs", "List and show issued certificates");
  certs->require_subcommand(1);
  auto filter = std::make_shared<CertListArgs>();
  auto* certs_list = certs->add_subcommand("list", "List certificates");
  certs_list->add_option("--device", filter->device, "Device id or name");
  certs_list->add_option("--status", filter->status, "valid, revoked or expired")
      ->check(CLI::IsMember({"valid", "revoked", "expired"}));
  certs_list->add_option("--expiring-before", filter->expiring_before, "Date (YYYY-MM-DD) or Unix time");
  certs_list->add_option("--expiring-within", filter->expiring_within,
                         "Valid certificates expiring within this: 30d, 12h")
      ->excludes("--expiring-before");
  certs_list->add_option("--limit", filter->limit, "At most this many rows");
  certs_list->footer(examples({"portcullis certs list --device laptop-7 --status valid",
                               "portcullis certs list --expiring-before 2030-01-01 --json"}));
  certs_list->callback([&, filter] {
    action = [&, filter] {
      auto client = client_for(ctx);
      std::string q = "/certificates?limit=" + std::to_string(filter->limit);
      if (!filter->device.empty()) q += "&device=" + device_id(find_device(client, filter->device));
      if (!filter->status.empty()) q += "&status=" + filter->status;
      if (!filter->expiring_before.empty()) q += "&expiring_before=" + url_encode(filter->expiring_before);
      if (!filter->expiring_within.empty())
        q += "&expiring_within=" + std::to_string(parse_duration_seconds(filter->expiring_within));
      emit(ctx, rows_of(client.get(q), "certificates"), &kCertColumns);
      return 0;
    };
  });
  auto serial = std::make_shared<std::string>();
  auto* certs_show = certs->add_subcommand("show", "Show one certificate");
  certs_show->add_option("serial", *serial, "Serial number (hex)")->required();
  certs_show->callback([&, serial] {
    action = [&, serial] {
      auto client = client_for(ctx);
      nlohmann::json cert = client.get("/certificates/" + url_encode(*serial));
      emit(ctx, cert, nullptr);
      if (!ctx.json && cert.contains("pem")) std::cout << '\n' << cert["pem"].get<std::string>();
      return 0;
    };
  });
}

int run_revoke(const CliContext& ctx, const RevokeArgs& rv) {
  if (int(!rv.serial.empty()) + int(!rv.device.empty()) + int(!rv.devices_from.empty()) != 1)
    throw CliError("give exactly one of --serial, --device or --devices-from");
  nlohmann::json body = nlohmann::json::object();
  if (!rv.reason.empty()) body["reason"] = rv.reason;
  if (!rv.devices_from.empty()) {
    body["devices"] = read_device_list(rv.devices_from);
    auto client = client_for(ctx);
    nlohmann::json result = client.post("/revoke", body);
    if (ctx.json)
      emit(ctx, result, nullptr);
    else
      std::cout << "revoked " << result["revoked"].size() << " certificate(s) of " << result["devices"].get<int>()
                << " device(s)\n";
    return 0;
  }
  auto client = client_for(ctx);
  if (!rv.serial.empty()) {
    emit(ctx, client.post("/certificates/" + url_encode(rv.serial) + "/revoke", body), nullptr);
  } else {
    const std::string id = device_id(find_device(client, rv.device));
    nlohmann::json result = client.post("/devices/" + id + "/revoke", body);
    if (ctx.json)
      emit(ctx, result, nullptr);
    else
      print_table(std::cout, rows_of(result, "revoked"), kCertColumns);
  }
  return 0;
}

void add_revoke_command(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto rv = std::make_shared<RevokeArgs>();
  auto* revoke = app.add_subcommand("revoke", "Revoke a certificate, or every certificate of a device");
  auto* by_serial = revoke->add_option("--serial", rv->serial, "Serial number (hex)");
  auto* by_device = revoke->add_option("--device", rv->device, "Device id or name");
  auto* from_file = revoke->add_option(
      "--devices-from", rv->devices_from,
      "File with one device id or name a line ('-' = stdin): every certificate of all of them, in one transaction");
  by_serial->excludes(by_device);
  from_file->excludes(by_serial);
  from_file->excludes(by_device);
  revoke->add_option("--reason", rv->reason, "RFC 5280 reason: keyCompromise, superseded, cessationOfOperation, …");
  revoke->footer(examples({"portcullis revoke --device laptop-7 --reason keyCompromise",
                           "portcullis revoke --devices-from lost-devices.txt --reason cessationOfOperation"}));
  revoke->callback([&, rv] { action = [&, rv] { return run_revoke(ctx, *rv); }; });
}

void add_sessions_command(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto ss = std::make_shared<SessionArgs>();
  auto* sessions = app.add_subcommand("sessions", "List RADIUS accounting sessions (live ones unless --all)");
  sessions->add_flag("--all", ss->all, "Include stopped sessions");
  sessions->add_option("--limit", ss->limit, "At most this many rows (1..1000)")->check(CLI::Range(1, 1000));
  sessions->footer(examples({"portcullis sessions --all --limit 50"}));
  auto* disconnect = sessions->add_subcommand(
      "disconnect", "Send an RFC 5176 Disconnect-Request for a live session (its ID from `portcullis sessions`)");
  disconnect->add_option("id", ss->disconnect_id, "Session ID")->required();
  disconnect->callback([&, ss] {
    action = [&, ss] {
      auto client = client_for(ctx);
      const nlohmann::json result =
          client.post("/sessions/" + ss->disconnect_id + "/disconnect", nlohmann::json::object());
      if (ctx.json) {
        std::cout << result.dump(2) << '\n';
      } else {
        const nlohmann::json& s = result.at("session");
        std::cout << "Disconnect-Request sent to NAS " << cell_text(s.at("nas")) << " for session "
                  << cell_text(s.at("acct_session_id")) << "; its answer shows in `portcullis sessions --all`\n";
      }
      return 0;
    };
  });
  sessions->callback([&, ss, disconnect] {
    if (disconnect->parsed()) return;
    action = [&, ss] {
      auto client = client_for(ctx);
      const std::string q = std::string("/sessions?live=") + (ss->all ? "false" : "true") +
                            "&limit=" + std::to_string(ss->limit);
      emit(ctx, rows_of(client.get(q), "sessions"), &kSessionColumns);
      return 0;
    };
  });
}

int run_issue(const CliContext& ctx, const IssueArgs& is) {
  auto client = client_for(ctx);
  const std::string csr = ca::read_file(is.csr_file);
  // The API takes PEM in JSON; convert a DER CSR here.
  const std::string pem = ca::csr_to_pem(ca::csr_from_pem_or_der(csr).get());
  nlohmann::json body = {{"csr", pem}, {"device", is.device}, {"profile", is.profile}, {"create_device", true}};
  if (!is.cn.empty()) body["cn"] = is.cn;
  if (!is.sans.empty()) body["sans"] = is.sans;
  nlohmann::json result = client.post("/certificates", body);
  if (result.value("device_created", false))
    std::cerr << "created device " << cell_text(result["device"]["name"]) << " (id "
              << cell_text(result["device"]["id"]) << ")\n";
  if (ctx.json)
    emit(ctx, result, nullptr);
  else
    std::cout << result.at("certificate").get<std::string>();
  return 0;
}

void add_issue_command(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto is = std::make_shared<IssueArgs>();
  auto* issue = app.add_subcommand("issue", "Issue a certificate from a CSR (manual issuance); prints the PEM");
  issue->add_option("--csr", is->csr_file, "CSR file (PEM or DER)")->required()->check(CLI::ExistingFile);
  issue->add_option("--device", is->device, "Device id or name (created if it does not exist)")->required();
  issue->add_option("--profile", is->profile, "Certificate profile")->capture_default_str();
  issue->add_option("--cn", is->cn, "The certificate's CN; default: the device name (the CSR's names are not used)");
  issue->add_option("--san", is->sans, "A SAN the certificate carries: dns:NAME, email:ADDR, uri:URI, ip:ADDR (repeatable)");
  issue->footer(
      examples({"portcullis issue --csr laptop-7.csr --device laptop-7 --san dns:laptop-7.corp.example"}));
  issue->callback([&, is] { action = [&, is] { return run_issue(ctx, *is); }; });
}

}  // namespace

void add_admin_commands(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto* devices = app.add_subcommand("devices", "Manage devices through the admin API");
  devices->require_subcommand(1);
  add_device_add_and_list(*devices, ctx, action);
  add_device_show_and_toggle(*devices, ctx, action);
  add_cert_commands(app, ctx, action);
  add_revoke_command(app, ctx, action);
  add_sessions_command(app, ctx, action);
  add_issue_command(app, ctx, action);
}

}  // namespace portcullis::app
