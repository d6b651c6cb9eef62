// `portcullis why TARGET`: GET /api/v1/why/{target}, its summary, exit 0 accepted, 1 never
// seen, 2 otherwise (rejected, abandoned, waiting for approval).
// `portcullis events [--device D] [--mac M] [--nas N] [--serial S] [--kind K] [--outcome O]
// [--since 1h|DATE] [--limit N] [--offset N] [--json]`: the filters are the API's, passed
// as given (the service checks them: a MAC in any usual form, a serial with or without ':').
#include "app/cli/events_commands.hpp"

#include "app/cli/admin_client.hpp"
#include "app/http/url.hpp"
#include "app/cli/output.hpp"
#include "app/config.hpp"

#include <iostream>
#include <memory>

namespace portcullis::app {
namespace {

struct EventArgs {
  std::string device, mac, nas, serial, kind, outcome, since;
  int limit = 50;
  int offset = 0;
};

const std::vector<Column> kEventColumns = {{"TIME", "time"},     {"KIND", "kind"},     {"OUTCOME", "outcome"},
                                           {"REASON", "reason"}, {"NAS", "nas"},       {"MAC", "mac"},
                                           {"DEVICE", "device"}, {"SERIAL", "serial"}, {"DETAIL", "detail"}};

std::string events_query(const EventArgs& a) {
  std::string q = "/events?limit=" + std::to_string(a.limit) + "&offset=" + std::to_string(a.offset);
  const std::pair<const char*, const std::string*> filters[] = {
      {"device", &a.device}, {"mac", &a.mac},         {"nas", &a.nas},    {"serial", &a.serial},
      {"kind", &a.kind},     {"outcome", &a.outcome}, {"since", &a.since}};
  for (const auto& [name, value] : filters) {
    if (!value->empty()) q += std::string("&") + name + "=" + url_encode(*value);
  }
  return q;
}

}  // namespace

void add_events_commands(CLI::App& app, CliContext& ctx, std::function<int()>& action) {
  auto args = std::make_shared<EventArgs>();
  auto* cmd = app.add_subcommand("events", "Decision events (why a device was accepted or rejected), newest first");
  cmd->add_option("--device", args->device, "Device name");
  cmd->add_option("--mac", args->mac, "Calling-Station-Id in any usual form (02:00:…, 02-00-…, 0200…)");
  cmd->add_option("--nas", args->nas, "NAS client name");
  cmd->add_option("--serial", args->serial, "Certificate serial (hex)");
  cmd->add_option("--kind", args->kind, "radius, scep, dynauth, nas or radsec")
      ->check(CLI::IsMember({"radius", "scep", "dynauth", "nas", "radsec"}));
  cmd->add_option("--outcome", args->outcome, "accept, reject, abandoned, issued, pending, … (docs/events.md)");
  cmd->add_option("--since", args->since, "A duration back from now (90s, 15m, 1h, 7d) or a date/time");
  cmd->add_option("--limit", args->limit, "At most this many events (1..1000)")->check(CLI::Range(1, 1000));
  cmd->add_option("--offset", args->offset, "Skip this many (paging)")->check(CLI::NonNegativeNumber);
  cmd->callback([&, args] {
    action = [&, args] {
      AdminClient client(load_config(resolve_config_path(ctx.config_path)));
      const nlohmann::json body = client.get(events_query(*args));
      const nlohmann::json rows = body.value("events", nlohmann::json::array());
      if (ctx.json) std::cout << rows.dump(2) << '\n';
      else print_table(std::cout, rows, kEventColumns);
      return 0;
    };
  });

  auto target = std::make_shared<std::string>();
  auto* why = app.add_subcommand("why", "Why a device is (not) let in: its latest outcome per NAS/SSID and of "
                                        "enrollment in words; exit 0 accepted, 2 rejected, 1 never seen");
  why->add_option("target", *target, "Device name or id (or the CN it enrolled with), MAC (any usual form) or "
                                     "certificate serial")->required();
  why->callback([&, target] {
    action = [&, target] {
      AdminClient client(load_config(resolve_config_path(ctx.config_path)));
      const nlohmann::json body = client.get("/why/" + url_encode(*target));
      if (ctx.json) std::cout << body.dump(2) << '\n';
      else std::cout << body.value("summary", "") << '\n';
      const std::string verdict = body.value("verdict", "never_seen");
      // rejected, abandoned or pending: 2.
      return verdict == "accepted" ? 0 : verdict == "never_seen" ? 1 : 2;
    };
  });
}

}  // namespace portcullis::app
