// `portcullis challenge --device ID [--profile P] [--cn CN] [--ttl 60m]`: mints a one-time
// SCEP challenge (POST /api/v1/challenges) and prints it alone on stdout, so that an MDM
// script can capture it: CHALLENGE=$(portcullis challenge --device ipad-7).
#include "app/cli_scep.hpp"

#include "app/admin_client.hpp"
#include "app/config.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <stdexcept>

namespace portcullis::app {
namespace {

struct ChallengeArgs {
  std::string device, profile = "device", cn, ttl = "60m";
};

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
  auto* cmd = app.add_subcommand("challenge", "Mint a one-time SCEP challenge for a device; prints it on stdout");
  cmd->add_option("--device", args->device, "Device name (created if missing) or id")->required();
  cmd->add_option("--profile", args->profile, "Certificate profile")->capture_default_str();
  cmd->add_option("--cn", args->cn, "Require this CN in the CSR");
  cmd->add_option("--ttl", args->ttl, "Lifetime: 90s, 60m, 2h, 1d")->capture_default_str();
  cmd->callback([&, args] {
    action = [&, args] {
      const std::int64_t ttl = parse_duration_seconds(args->ttl);
      AdminClient client(load_config(resolve_config_path(ctx.config_path)));
      nlohmann::json body = {{"device", args->device}, {"profile", args->profile}, {"ttl_seconds", ttl}};
      if (!args->cn.empty()) body["cn"] = args->cn;
      const nlohmann::json result = client.post("/challenges", body);
      if (ctx.json) {
        std::cout << result.dump(2) << '\n';
      } else {
        std::cout << result.at("challenge").get<std::string>() << '\n';
        std::cerr << "expires " << result.value("expires_at", std::string()) << " for device "
                  << result.value("device", std::string()) << '\n';
      }
      return 0;
    };
  });
}

}  // namespace portcullis::app
