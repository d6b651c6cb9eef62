#include "app/join.hpp"

#include "app/config.hpp"
#include "app/ledger_open.hpp"
#include "ca/authority.hpp"
#include "ca/keys.hpp"
#include "ca/x509.hpp"

#include <filesystem>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace portcullis::app {
namespace {

namespace fs = std::filesystem;

// The line's new text when it is a port setting of its section, else nullopt.
std::optional<std::string> retarget_line(const std::string& section, const std::string& line, std::uint16_t http,
                                         std::uint16_t admin, std::uint16_t radius, int& seen) {
  static const std::regex setting(R"(^(\s*)(port|auth_port|acct_port|public_url)(\s*=\s*)([^#]*?)(\s*(#.*)?)$)");
  std::smatch m;
  if (!std::regex_match(line, m, setting)) return std::nullopt;
  const std::string key = m[2];
  const auto with = [&](const std::string& value) { return std::string(m[1]) + key + std::string(m[3]) + value + std::string(m[5]); };
  if (section == "http" && key == "port") return ++seen, with(std::to_string(http));
  if (section == "admin" && key == "port") return ++seen, with(std::to_string(admin));
  if (section == "radius" && key == "auth_port") return ++seen, with(std::to_string(radius));
  if (section == "radius" && key == "acct_port") return ++seen, with(std::to_string(radius + 1));
  if (section == "http" && key == "public_url") {
    // "http://host:PORT" as init writes it; another URL (a proxy in front) stays.
    static const std::regex url(R"(^"(https?://[^/:"]+):\d+"$)");
    std::smatch u;
    const std::string value = m[4];
    if (std::regex_match(value, u, url)) return with("\"" + std::string(u[1]) + ":" + std::to_string(http) + "\"");
  }
  return std::nullopt;
}

// Two running nodes under one name would show as one on every console (and each would
// log the other's beats): the name must be new, or that of a node no longer beating.
void refuse_taken_name(ca::Ledger& ledger, const Config& source, const std::string& name) {
  const std::string hint = "; give this node its own name with --node-name";
  if (name == source.service.node_name) throw std::runtime_error("the node being joined is called " + name + hint);
  const ca::NodeList nodes = ledger.nodes();
  for (const ca::NodeRow& n : nodes.nodes) {
    const std::string state = ca::node_state(n, nodes.now);
    if (n.name == name && state != "stopped" && state != "silent")
      throw std::runtime_error("a node called " + name + " is running on this ledger" + hint);
  }
}

}  // namespace

std::string retarget_ports(const std::string& config, std::uint16_t http_port, std::uint16_t admin_port,
                           std::uint16_t radius_port) {
  static const std::regex header(R"(^\s*\[([A-Za-z0-9_.]+)\]\s*(#.*)?$)");
  std::istringstream in(config);
  std::ostringstream out;
  std::string line;
  std::string section;
  int seen = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, header)) section = m[1];
    const auto replaced = retarget_line(section, line, http_port, admin_port, radius_port, seen);
    out << (replaced ? *replaced : line) << "\n";
  }
  if (seen != 4) {
    throw std::runtime_error("cannot find [http] port, [admin] port, [radius] auth_port and acct_port in the config; "
                             "copy the folder and set them by hand");
  }
  return out.str();
}

std::string rename_node(const std::string& config, const std::string& name) {
  static const std::regex header(R"(^\s*\[([A-Za-z0-9_.]+)\]\s*(#.*)?$)");
  static const std::regex setting(R"re(^(\s*node_name\s*=\s*)("[^"]*"|'[^']*')(.*)$)re");
  std::istringstream in(config);
  std::ostringstream out;
  std::string line, section;
  bool done = false;
  while (std::getline(in, line)) {
    std::smatch m;
    const bool is_header = std::regex_match(line, m, header);
    if (is_header && section == "service" && !done) out << "node_name = \"" << name << "\"\n", done = true;
    if (is_header) section = m[1];
    if (section == "service" && std::regex_match(line, m, setting)) {
      out << m[1] << '"' << name << '"' << m[3] << "\n";
      done = true;
      continue;
    }
    out << line << "\n";
  }
  if (!done) out << (section == "service" ? "" : "\n[service]\n") << "node_name = \"" << name << "\"\n";
  return out.str();
}

InitSummary run_join(const InitOptions& o) {
  if (o.dir.empty()) throw std::invalid_argument("--dir is required");
  if (o.radius_port == 65535) throw std::invalid_argument("--radius-port must leave room for accounting (port + 1)");
  const fs::path source = fs::absolute(o.join).lexically_normal();
  const fs::path source_config = source / "portcullis.toml";
  const Config config = load_config(source_config.string());
  const std::string node_name = o.node_name.empty() ? machine_hostname() : o.node_name;
  if (config.ledger.backend != "postgresql") {
    throw std::runtime_error(source_config.string() + " uses the SQLite ledger, which one node alone can use; "
                             "a node can only join a PostgreSQL ledger");
  }
  // The ledger must be A's: A's RA certificate is recorded there.
  {
    auto ledger = open_ledger(config.ledger);
    const ca::X509Ptr ra = ca::cert_from_pem(ca::read_file(ca::CaPaths{config.ca.dir}.ra()));
    if (!ledger->find_certificate(ca::serial_hex(ra.get()))) {
      throw std::runtime_error("the ledger at " + ledger_location(config.ledger) + " does not hold the CA of " +
                               source.string() + "; refusing to join a ledger of another CA");
    }
    refuse_taken_name(*ledger, config, node_name);
  }
  const fs::path dir = fs::absolute(o.dir).lexically_normal();
  if (fs::exists(dir)) throw std::runtime_error("refusing to touch existing " + dir.string() + ": init needs a new folder");
  try {
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
    // The CA keys come along (copy_file keeps their 0600 mode): every node issues, and
    // signs CRLs and OCSP answers (docs/operations.md).
    fs::copy(config.ca.dir, dir / "ca", fs::copy_options::recursive);
    const fs::path token = source / "admin.token";
    if (fs::exists(token)) fs::copy_file(token, dir / "admin.token");
    ca::write_file((dir / "portcullis.toml").string(),
                   rename_node(retarget_ports(ca::read_file(source_config.string()), o.http_port, o.admin_port,
                                              o.radius_port),
                               node_name),
                   0600);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
    throw;
  }
  InitSummary summary;
  summary.config_path = (dir / "portcullis.toml").string();
  summary.ca_dir = (dir / "ca").string();
  summary.ledger_path = ledger_location(config.ledger);
  summary.token_file = (dir / "admin.token").string();
  return summary;
}

}  // namespace portcullis::app
