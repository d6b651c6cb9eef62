#include "app/cli/overview.hpp"

#include "app/cli/admin_client.hpp"
#include "app/config.hpp"
#include "app/http/client.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace portcullis::app {
namespace {

struct ConfigState {
  ConfigLocation location;
  bool found = false;
  std::optional<Config> config;
  std::string error;  // why a found config could not be loaded
};

struct ServiceState {
  bool running = false;
  std::string url;     // the admin API health endpoint asked
  std::string reason;  // why it is not reachable
};

ConfigState read_config(const std::string& given) {
  ConfigState state;
  state.location = locate_config(given);
  state.found = std::filesystem::exists(state.location.path);
  if (!state.found) return state;
  try {
    state.config = load_config(state.location.path);
  } catch (const std::exception& e) {
    state.error = e.what();
  }
  return state;
}

// GET /api/v1/health, which needs no token (app/admin/api.cpp): the one question is whether
// the service answers. A short timeout: a firewalled port must not hang the overview.
ServiceState probe_service(const Config& config) {
  HttpClientOptions options = admin_http_options(config);
  options.timeout = std::chrono::seconds(2);
  ServiceState state;
  state.url = std::string(options.tls ? "https" : "http") + "://" + options.host + ":" + std::to_string(options.port) +
              "/api/v1/health";
  try {
    const HttpClientResponse response = http_request(options, "GET", "/api/v1/health");
    state.running = response.status == 200;
    if (!state.running) state.reason = "answered HTTP " + std::to_string(response.status);
  } catch (const std::exception& e) {
    state.reason = e.what();
  }
  return state;
}

// What a newcomer runs next, for each state; every line runs as printed once the
// placeholders (DIR, NAME) are filled in.
std::vector<std::string> next_commands(const ConfigState& c, const std::optional<ServiceState>& s) {
  const std::string config = " --config " + c.location.path;
  if (!c.found || !c.config)
    return {"portcullis init --dir DIR", "portcullis serve --config DIR/portcullis.toml", "portcullis --help"};
  if (!s || !s->running)
    return {"portcullis serve" + config, "portcullis devices list" + config, "portcullis --help"};
  return {"portcullis devices add NAME" + config, "portcullis challenge --device NAME" + config,
          "portcullis certs list" + config};
}

void print_text(std::ostream& out, std::string_view version, const ConfigState& c,
                const std::optional<ServiceState>& s, const std::vector<std::string>& next) {
  out << version << ": device certificates over SCEP and EAP-TLS over RADIUS\n\n";
  out << "config   " << c.location.path << " (" << c.location.source << ")";
  if (!c.found) out << ": not found";
  else if (!c.config) out << ": cannot be used: " << c.error;
  out << '\n';
  if (s)
    out << "service  " << (s->running ? "running" : "not reachable") << " (" << s->url << ")"
        << (s->running ? "" : ": " + s->reason) << '\n';
  else
    out << "service  unknown (no usable config)\n";
  out << "\nNext:\n";
  for (const auto& command : next) out << "  " << command << '\n';
  out << "\nEvery command:  portcullis --help\nOne command:    portcullis COMMAND --help\n";
}

}  // namespace

int print_overview(std::ostream& out, const CliContext& ctx, std::string_view version) {
  const ConfigState config = read_config(ctx.config_path);
  std::optional<ServiceState> service;
  if (config.config) service = probe_service(*config.config);
  const std::vector<std::string> next = next_commands(config, service);
  if (!ctx.json) {
    print_text(out, version, config, service, next);
    return 0;
  }
  nlohmann::json body = {{"version", version},
                         {"config", {{"path", config.location.path}, {"source", config.location.source},
                                     {"found", config.found}}},
                         {"next", next}};
  if (!config.error.empty()) body["config"]["error"] = config.error;
  if (service) {
    body["service"] = {{"state", service->running ? "running" : "not reachable"}, {"health_url", service->url}};
    if (!service->running) body["service"]["reason"] = service->reason;
  } else {
    body["service"] = {{"state", "unknown"}};
  }
  out << body.dump(2) << '\n';
  return 0;
}

}  // namespace portcullis::app
