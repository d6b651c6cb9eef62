#include "app/cli/policy_commands.hpp"

#include "app/admin/json.hpp"
#include "app/cli/output.hpp"
#include "app/config.hpp"
#include "app/ledger_open.hpp"
#include "app/policy_control.hpp"
#include "ca/ledger/ledger.hpp"
#include "radius/dictionary.hpp"
#include "radius/server.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
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

std::uint32_t parse_port_type(const std::string& text) {
  std::uint32_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc{} && ptr == text.data() + text.size()) return n;
  const radius::Attribute a = radius::Dictionary::load().parse_value("NAS-Port-Type", text);  // throws for unknown names
  return (std::uint32_t{a.value[0]} << 24) | (std::uint32_t{a.value[1]} << 16) | (std::uint32_t{a.value[2]} << 8) |
         a.value[3];
}

// The certificate RADIUS would see: the newest one (by issue time) that is valid at `at`.
std::optional<ca::CertificateRecord> newest_valid(ca::Ledger& ledger, std::int64_t device_id, ca::UnixTime at) {
  ca::CertificateFilter filter;
  filter.device_id = device_id;
  filter.now = at;
  filter.limit = 100000;
  std::optional<ca::CertificateRecord> best;
  for (auto& c : ledger.list_certificates(filter)) {
    if (c.revoked || at < c.not_before || at > c.not_after) continue;
    if (!best || c.issued_at > best->issued_at) best = std::move(c);
  }
  return best;
}

ca::Device find_device(ca::Ledger& ledger, const std::string& ref, const std::string& ledger_path) {
  std::optional<ca::Device> device;
  if (!ref.empty() && ref.find_first_not_of("0123456789") == std::string::npos && ref.size() <= 18)
    device = ledger.find_device(std::stoll(ref));
  if (!device) device = ledger.find_device_by_name(ref);
  if (!device) throw std::runtime_error("no device '" + ref + "' in " + ledger_path);
  return *device;
}

// What the RADIUS server would put before the policy for this device, NAS and SSID.
policy::AccessContext access_context(const Config& config, const PolicyTestArgs& args, const ca::Device& device,
                                     const std::optional<ca::CertificateRecord>& cert, ca::UnixTime at) {
  policy::AccessContext c;
  c.device_id = device.id;
  c.device_name = device.name;
  c.device_groups = device.groups;
  c.now = at;
  if (!args.nas.empty()) {
    const RadiusClientSetting* nas = nullptr;
    for (const auto& client : config.radius.clients)
      if (client.name == args.nas) nas = &client;
    if (nas == nullptr) throw std::runtime_error("no [[radius.clients]] entry named '" + args.nas + "' in " + config.path);
    c.nas_name = nas->name;
    c.nas_groups = nas->groups;
  }
  // RFC 3580 §3.20 "MAC:SSID"; the MAC is a placeholder, rules look at the SSID only.
  if (!args.ssid.empty()) c.called_station_id = "00-00-00-00-00-00:" + args.ssid;
  if (!args.nas_port_type.empty()) c.nas_port_type = parse_port_type(args.nas_port_type);
  if (cert) {
    c.profile = cert->profile;
    c.subject = cert->subject;
    c.sans = cert->sans;
    c.serial_hex = cert->serial_hex;
    c.cert_not_after = cert->not_after;
  }
  return c;
}

// The decision into `out`: accept, rule, reason, and for an accept the reply attributes,
// the capped Session-Timeout and the on_disable action.
void decide(const Config& config, const policy::AccessContext& c, const std::string& refused, ca::UnixTime at,
            nlohmann::json& out) {
  auto engine = make_policy_engine();
  if (!config.policy.file.empty()) engine->load_file(config.policy.file);  // PolicyError: file:line, exit 1
  if (!refused.empty()) {
    out["accept"] = false;
    out["rule"] = nullptr;
    out["reason"] = refused + " (rejected before any policy rule)";
    return;
  }
  const policy::Decision d = engine->decide(c);
  out["accept"] = d.accept;
  out["rule"] = d.rule;
  if (!d.accept) out["reason"] = d.reason;
  for (const auto& s : engine->stats())
    if (s.name == d.rule) out["rule_line"] = s.line;
  nlohmann::json reply = nlohmann::json::array();
  for (const auto& a : d.reply) reply.push_back({{"name", a.name}, {"value", a.value_text}});
  if (d.accept) {
    out["reply"] = reply;
    out["session_timeout"] = policy::capped_session_timeout(d.session_timeout, radius::ServerOptions{}.max_session_timeout,
                                                            c.cert_not_after, at);
    out["on_disable"] = policy::to_string(d.on_disable);
  }
}

void print_decision(const Config& config, const PolicyTestArgs& args, const ca::Device& device,
                    const std::optional<ca::CertificateRecord>& cert, const policy::AccessContext& c,
                    const nlohmann::json& out, ca::UnixTime at) {
  std::cout << "device     " << device.name << " (id " << device.id << ", groups "
            << (device.groups.empty() ? "-" : out["groups"].dump()) << ")\n";
  if (cert) std::cout << "cert       " << cert->serial_hex << " " << cert->subject << " (profile " << cert->profile
                      << ", not after " << admin::iso8601(cert->not_after) << ")\n";
  std::cout << "request    nas " << (c.nas_name.empty() ? "-" : c.nas_name) << ", ssid "
            << (args.ssid.empty() ? "-" : args.ssid) << ", at " << admin::iso8601(at) << "\n"
            << "policy     " << (config.policy.file.empty() ? "(none: every valid device accepted)" : config.policy.file)
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
  const ca::UnixTime at = parse_instant(args.at);
  auto ledger = open_ledger(config.ledger);
  const ca::Device device = find_device(*ledger, args.device, ledger_location(config.ledger));
  const auto cert = newest_valid(*ledger, device.id, at);
  const policy::AccessContext c = access_context(config, args, device, cert, at);

  nlohmann::json out = {{"device", device.name},
                        {"device_id", device.id},
                        {"groups", device.groups},
                        {"nas", c.nas_name},
                        {"nas_groups", c.nas_groups},
                        {"ssid", args.ssid},
                        {"at", admin::iso8601(at)},
                        {"policy_file", config.policy.file}};
  if (cert) {
    out["serial"] = cert->serial_hex;
    out["profile"] = cert->profile;
    out["subject"] = cert->subject;
    out["not_after"] = admin::iso8601(cert->not_after);
  }
  // What the RADIUS server checks before the policy (ca::IdentityIndex verdicts).
  std::string refused;
  if (!device.enabled) refused = "device_disabled";
  else if (!cert) refused = "no valid certificate at that time";
  decide(config, c, refused, at, out);

  if (ctx.json)
    std::cout << out.dump(2) << '\n';
  else
    print_decision(config, args, device, cert, c, out, at);
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
