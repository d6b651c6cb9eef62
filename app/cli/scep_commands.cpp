// `portcullis challenge --device ID [--profile P] [--cn CN] [--ttl 60m]`: mints a one-time
// SCEP challenge (POST /api/v1/challenges) and prints it alone on stdout, so that an MDM
// script can capture it: CHALLENGE=$(portcullis challenge --device ipad-7).
// `portcullis challenge --expired-within DAYS | --device A --device B … [--out FILE]`: one
// for each of many devices in one transaction (POST /api/v1/challenges/bulk).
// `portcullis requests list|approve|reject`: SCEP requests held for manual approval.
// `portcullis profile apple|android|windows --device ID ...`: a device's MDM document with a
// fresh one-time challenge (GET /api/v1/devices/{device}/profile/...).
#include "app/cli/scep_commands.hpp"

#include "app/cli/admin_client.hpp"
#include "app/http/url.hpp"
#include "app/cli/output.hpp"
#include "app/config.hpp"
#include "ca/x509.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <stdexcept>

namespace portcullis::app {
namespace {

struct ChallengeArgs {
  std::vector<std::string> devices;
  std::string profile, cn, ttl = "60m", out;
  std::vector<std::string> sans;
  int expired_within_days = 0;
};

struct ProfileArgs {
  std::string device, ssid, profile, out;
  bool wpa3 = false;
};

struct RequestArgs {
  bool all = false;
  std::string id, reason;
};

const std::vector<Column> kRequestColumns = {{"ID", "id"},           {"STATUS", "status"},   {"DEVICE", "device"},
                                             {"PROFILE", "profile"}, {"SUBJECT", "subject"}, {"CREATED", "created_at"},
                                             {"DECIDED BY", "decided_by"}, {"SERIAL", "serial"}};

// `portcullis requests list [--all] | approve ID | reject ID [--reason R]`: SCEP requests
// held for manual approval (RFC 8894 §3.3.2), through /api/v1/requests.
void add_request_commands(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto args = std::make_shared<RequestArgs>();
  auto* requests = app.add_subcommand("requests", "SCEP requests waiting for manual approval");
  requests->require_subcommand(1);

  auto* list = requests->add_subcommand("list", "List pending requests (--all: decided ones too)");
  list->add_flag("--all", args->all, "Also approved and rejected requests");
  list->callback([&, args] {
    action = [&, args] {
      AdminClient client(load_config(resolve_config_path(ctx.config_path)));
      const nlohmann::json body = client.get(std::string("/requests?status=") + (args->all ? "all" : "pending"));
      const nlohmann::json rows = body.value("requests", nlohmann::json::array());
      if (ctx.json) {
        std::cout << rows.dump(2) << '\n';
      } else {
        print_table(std::cout, rows, kRequestColumns);
      }
      return 0;
    };
  });

  for (const bool approve : {true, false}) {
    auto* cmd = requests->add_subcommand(approve ? "approve" : "reject",
                                         approve ? "Approve a request: the certificate is issued now and the "
                                                   "device collects it with its next poll"
                                                 : "Reject a request: the device's next poll gets a FAILURE");
    cmd->add_option("id", args->id, "Request id (from `requests list`)")->required();
    if (!approve) cmd->add_option("--reason", args->reason, "Why (kept in the ledger and the audit log)");
    cmd->callback([&, args, approve] {
      action = [&, args, approve] {
        AdminClient client(load_config(resolve_config_path(ctx.config_path)));
        nlohmann::json body = nlohmann::json::object();
        if (!approve && !args->reason.empty()) body["reason"] = args->reason;
        const nlohmann::json result =
            client.post("/requests/" + url_encode(args->id) + (approve ? "/approve" : "/reject"), body);
        if (ctx.json) {
          std::cout << result.dump(2) << '\n';
        } else {
          print_record(std::cout, result.at("request"));
        }
        return 0;
      };
    });
  }
}

// `portcullis profile apple --device ID --ssid NAME [--wpa3] [--out FILE]`, `profile android
// --device ID --ssid NAME`, `profile windows --device ID`: one admin API call mints the
// challenge and renders the document, which goes to stdout or, with --out, to a 0600 file
// (it holds a live challenge).
void add_profile_commands(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto args = std::make_shared<ProfileArgs>();
  auto* profile = app.add_subcommand("profile", "MDM profile for a device, with a fresh one-time SCEP challenge");
  profile->require_subcommand(1);
  struct Platform {
    std::string name, description;
    const char* example;
  };
  const std::vector<Platform> platforms = {
      {"apple", "Apple .mobileconfig: SCEP, root CA and EAP-TLS Wi-Fi payloads",
       "portcullis profile apple --device ipad-7 --ssid corp-wifi --out ipad-7.mobileconfig"},
      {"android", "Android Enterprise: SCEP settings for the MDM agent and a Wi-Fi ONC (JSON)",
       "portcullis profile android --device pixel-3 --ssid corp-wifi"},
      // The Windows document is the SCEP CSP alone (no Wi-Fi part), so it takes no --ssid.
      {"windows", "Windows ClientCertificateInstall/SCEP CSP values (JSON)",
       "portcullis profile windows --device laptop-7 --out laptop-7.json"}};
  for (const auto& entry : platforms) {
    const std::string platform = entry.name;
    auto* cmd = profile->add_subcommand(platform, entry.description);
    cmd->add_option("--device", args->device, "Device name (created if missing) or id")->required();
    if (platform != "windows") cmd->add_option("--ssid", args->ssid, "Wi-Fi network name")->required();
    if (platform == "apple") cmd->add_flag("--wpa3", args->wpa3, "WPA3-Enterprise instead of WPA2-Enterprise");
    cmd->add_option("--profile", args->profile, "Certificate profile (default: device)");
    cmd->add_option("--out", args->out, "Write to this file (mode 0600) instead of stdout");
    cmd->footer(examples({entry.example}));
    cmd->callback([&, args, platform] {
      action = [&, args, platform] {
        AdminClient client(load_config(resolve_config_path(ctx.config_path)));
        std::string target = "/devices/" + url_encode(args->device) + "/profile/" + platform + "?";
        if (!args->ssid.empty()) target += "ssid=" + url_encode(args->ssid) + "&";
        if (args->wpa3) target += "wpa3=true&";
        if (!args->profile.empty()) target += "profile=" + url_encode(args->profile) + "&";
        target.pop_back();
        const std::string document = client.get_text(target);
        if (args->out.empty()) {
          std::cout << document;
        } else {
          ca::write_file(args->out, document, 0600);
          std::cerr << "wrote " << args->out << " for device " << args->device << '\n';
        }
        return 0;
      };
    });
  }
}

// The challenge(s) to stdout, or with --out to a 0600 file (they are live secrets).
void emit_secret_text(const std::string& text, const std::string& out) {
  if (out.empty()) {
    std::cout << text;
  } else {
    ca::write_file(out, text, 0600);
  }
}

// One challenge: printed alone, so that CHALLENGE=$(portcullis challenge --device X) works.
int mint_one(CliContext& ctx, const ChallengeArgs& args, std::int64_t ttl) {
  AdminClient client(load_config(resolve_config_path(ctx.config_path)));
  nlohmann::json body = {{"device", args.devices.front()},
                         {"profile", args.profile.empty() ? std::string("device") : args.profile},
                         {"ttl_seconds", ttl}};
  if (!args.cn.empty()) body["cn"] = args.cn;
  if (!args.sans.empty()) body["sans"] = args.sans;
  const nlohmann::json result = client.post("/challenges", body);
  emit_secret_text(ctx.json ? result.dump(2) + "\n" : result.at("challenge").get<std::string>() + "\n", args.out);
  if (!ctx.json)
    std::cerr << "expires " << result.value("expires_at", std::string()) << " for device "
              << result.value("device", std::string()) << '\n';
  return 0;
}

// Many at once (POST /challenges/bulk, one transaction): a line per device,
// "DEVICE<TAB>PROFILE<TAB>CHALLENGE<TAB>EXPIRES", for an MDM script to read.
int mint_many(CliContext& ctx, const ChallengeArgs& args, std::int64_t ttl) {
  if (!args.cn.empty() || !args.sans.empty())
    throw std::invalid_argument("--cn and --san pin one device's names: use them with a single --device");
  AdminClient client(load_config(resolve_config_path(ctx.config_path)));
  nlohmann::json body = {{"ttl_seconds", ttl}};
  if (args.expired_within_days > 0) body["expired_within_days"] = args.expired_within_days;
  else body["devices"] = args.devices;
  if (!args.profile.empty()) body["profile"] = args.profile;
  const nlohmann::json result = client.post("/challenges/bulk", body);
  const nlohmann::json& list = result.at("challenges");
  std::string text = ctx.json ? list.dump(2) + "\n" : std::string();
  if (!ctx.json)
    for (const auto& c : list)
      text += c.at("device").get<std::string>() + '\t' + c.at("profile").get<std::string>() + '\t' +
              c.at("challenge").get<std::string>() + '\t' + c.at("expires_at").get<std::string>() + '\n';
  emit_secret_text(text, args.out);
  std::cerr << "minted " << list.size() << " one-time challenge" << (list.size() == 1 ? "" : "s")
            << (args.out.empty() ? std::string() : " into " + args.out) << '\n';
  return 0;
}

}  // namespace

std::int64_t parse_duration_seconds(const std::string& text) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("not a duration: '" + text + "' (e.g. 90s, 60m, 2h, 1d)");
  }
  const std::string unit = text.substr(used);
  long long scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else if (unit == "d") scale = 86400;
  if (scale == 0 || value <= 0 || value > 366LL * 86400 / scale)
    throw std::invalid_argument("not a duration: '" + text + "' (e.g. 90s, 60m, 2h, 1d)");
  return static_cast<std::int64_t>(value * scale);
}

void add_scep_commands(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto args = std::make_shared<ChallengeArgs>();
  auto* cmd = app.add_subcommand("challenge", "Mint a one-time SCEP challenge for a device (or many); prints it on stdout");
  cmd->add_option("--device", args->devices, "Device name (created if missing) or id; repeat for many (existing devices)");
  cmd->add_option("--expired-within", args->expired_within_days,
                  "Every device whose certificate expired within this many days (and has no valid one)")
      ->check(CLI::Range(1, 3660));
  cmd->add_option("--profile", args->profile, "Certificate profile (default: device; with --expired-within: only that profile)");
  cmd->add_option("--cn", args->cn, "The certificate's CN (the CSR must name it too); default: the device name");
  cmd->add_option("--san", args->sans, "A SAN the certificate carries: dns:NAME, email:ADDR or uri:URI (repeatable)");
  cmd->add_option("--ttl", args->ttl, "Lifetime: 90s, 60m, 2h, 1d")->capture_default_str();
  cmd->add_option("--out", args->out, "Write the challenge(s) to this file (mode 0600) instead of stdout");
  cmd->footer(examples({"portcullis challenge --device laptop-7 --ttl 10m",
                        "portcullis challenge --expired-within 30 --ttl 7d --out reenroll.tsv"}));
  cmd->callback([&, args] {
    action = [&, args] {
      const std::int64_t ttl = parse_duration_seconds(args->ttl);
      if (args->expired_within_days > 0 && !args->devices.empty())
        throw std::invalid_argument("give --device or --expired-within, not both");
      if (args->expired_within_days == 0 && args->devices.empty())
        throw std::invalid_argument("give --device (repeatable) or --expired-within DAYS");
      if (args->expired_within_days == 0 && args->devices.size() == 1) return mint_one(ctx, *args, ttl);
      return mint_many(ctx, *args, ttl);
    };
  });
  add_request_commands(app, ctx, action);
  add_profile_commands(app, ctx, action);
}

}  // namespace portcullis::app
