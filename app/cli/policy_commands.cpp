#include "app/cli/policy_commands.hpp"

#include "app/admin/json.hpp"
#include "app/cli/output.hpp"
#include "app/config.hpp"
#include "app/ledger_open.hpp"
#include "app/admin/policy_test.hpp"
#include "ca/ledger/ledger.hpp"

#include <nlohmann/json.hpp>

#include <ctime>
#include <iostream>
#include <memory>
#include <stdexcept>

namespace portcullis::app {
namespace {

struct PolicyTestArgs {
  std::string device, nas, ssid, nas_port_type, at;
};

// Unix seconds, an ISO-8601 UTC instant ("...Z") or date, or a local "YYYY-MM-DDTHH:MM[:SS]"
// (local, because time-of-day rules are written in the service's local time).
ca::UnixTime parse_instant(const std::string& text) {
  if (text.empty()) return ca::now_unix();
  if (auto t = admin::parse_time(text)) return *t;
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M", &tm);
  if (end != nullptr && *end == ':') end = strptime(end, ":%S", &tm);
  if (end == nullptr || *end != '\0')
    throw std::runtime_error("--at: expected unix seconds, 2025-01-07T10:30 (local time) or 2025-01-07T10:30:00Z");
  tm.tm_isdst = -1;
  return static_cast<ca::UnixTime>(std::mktime(&tm));
}

void print_decision(const nlohmann::json& out) {
  const auto text = [&](const char* name) { return out.value(name, std::string()); };
  std::cout << "device     " << text("device") << " (id " << out["device_id"].dump() << ", groups "
            << (out["groups"].empty() ? "-" : out["groups"].dump()) << ")\n";
  if (out.contains("serial"))
    std::cout << "cert       " << text("serial") << " " << text("subject") << " (profile " << text("profile")
              << ", not after " << text("not_after") << ")\n";
  std::cout << "request    nas " << (text("nas").empty() ? "-" : text("nas")) << ", ssid "
            << (text("ssid").empty() ? "-" : text("ssid")) << ", at " << text("at") << "\n"
            << "policy     " << (text("policy_file").empty() ? "(none: every valid device accepted)" : text("policy_file"))
            << "\n";
  if (!out["accept"].get<bool>()) {
    std::cout << "decision   REJECT" << (out["rule"].is_null() ? "" : " by rule " + out["rule"].get<std::string>())
              << ": " << out["reason"].get<std::string>() << "\n";
  } else {
    std::cout << "decision   ACCEPT by rule " << out["rule"].get<std::string>() << "\n";
    for (const auto& a : out["reply"])
      std::cout << "reply      " << a["name"].get<std::string>() << " = " << a["value"].get<std::string>() << "\n";
    std::cout << "reply      Session-Timeout = " << out["session_timeout"].get<std::uint32_t>() << "\n";
  }
}

int run_policy_test(const CliContext& ctx, const PolicyTestArgs& args) {
  const Config config = load_config(resolve_config_path(ctx.config_path));
  auto ledger = open_ledger(config.ledger);
  PolicyTestInput input;
  input.device = args.device;
  input.nas = args.nas;
  input.ssid = args.ssid;
  if (!args.nas_port_type.empty()) input.nas_port_type = parse_nas_port_type(args.nas_port_type);
  input.at = parse_instant(args.at);
  PolicyTestSources sources;
  sources.ledger = ledger.get();
  sources.ledger_location = ledger_location(config.ledger);
  sources.nas_groups = [&config](const std::string& nas) -> std::optional<std::vector<std::string>> {
    for (const auto& client : config.radius.clients)
      if (client.name == nas) return client.groups;
    return std::nullopt;
  };
  sources.policy_file = config.policy.file;
  sources.config_path = config.path;
  nlohmann::json out;
  try {
    out = policy_test(input, sources);
  } catch (const PolicyTestNotFound& e) {
    throw std::runtime_error(e.what());
  }
  if (ctx.json)
    std::cout << out.dump(2) << '\n';
  else
    print_decision(out);
  return out["accept"].get<bool>() ? 0 : 2;
}

}  // namespace

void add_policy_commands(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto* policy = app.add_subcommand("policy", "Access policy rules");
  policy->require_subcommand(1);
  auto args = std::make_shared<PolicyTestArgs>();
  auto* test = policy->add_subcommand(
      "test", "Which rule decides for a device, and the reply (offline: reads the config, ledger and policy file)");
  test->add_option("--device", args->device, "Device id or name")->required();
  test->add_option("--nas", args->nas, "NAS client name ([[radius.clients]] name)");
  test->add_option("--ssid", args->ssid, "SSID (as in Called-Station-Id \"MAC:SSID\")");
  test->add_option("--nas-port-type", args->nas_port_type, "NAS-Port-Type name or number (Wireless-802.11, 19)");
  test->add_option("--at", args->at, "Instant: unix seconds, 2025-01-07T10:30 (local) or ...Z (UTC); default now");
  test->footer(examples({"portcullis policy test --device laptop-7 --nas loopback --ssid corp-wifi"}));
  test->callback([&ctx, &action, args] { action = [&ctx, args] { return run_policy_test(ctx, *args); }; });
}

}  // namespace portcullis::app
