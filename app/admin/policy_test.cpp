// The policy test shared by `portcullis policy test` and POST /api/v1/policy/test.
#include "app/admin/policy_test.hpp"

#include "app/admin/json.hpp"
#include "app/policy_control.hpp"
#include "radius/dictionary.hpp"
#include "radius/server.hpp"

#include <charconv>

namespace portcullis::app {
namespace {

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

ca::Device find_device(ca::Ledger& ledger, const std::string& ref, const std::string& ledger_location) {
  std::optional<ca::Device> device;
  if (!ref.empty() && ref.find_first_not_of("0123456789") == std::string::npos && ref.size() <= 18)
    device = ledger.find_device(std::stoll(ref));
  if (!device) device = ledger.find_device_by_name(ref);
  if (!device) throw PolicyTestNotFound("no device '" + ref + "' in " + ledger_location);
  return *device;
}

// What the RADIUS server would put before the policy for this device, NAS and SSID.
policy::AccessContext access_context(const PolicyTestInput& in, const PolicyTestSources& sources,
                                     const ca::Device& device, const std::optional<ca::CertificateRecord>& cert) {
  policy::AccessContext c;
  c.device_id = device.id;
  c.device_name = device.name;
  c.device_groups = in.groups ? *in.groups : device.groups;
  c.now = in.at;
  if (!in.nas.empty()) {
    auto groups = sources.nas_groups ? sources.nas_groups(in.nas) : std::nullopt;
    if (!groups)
      throw PolicyTestNotFound("no [[radius.clients]] entry named '" + in.nas + "' in " + sources.config_path);
    c.nas_name = in.nas;
    c.nas_groups = std::move(*groups);
  }
  // RFC 3580 §3.20 "MAC:SSID"; the MAC is a placeholder, rules look at the SSID only.
  c.called_station_id = in.called_station_id;
  if (c.called_station_id.empty() && !in.ssid.empty()) c.called_station_id = "00-00-00-00-00-00:" + in.ssid;
  c.calling_station_id = in.calling_station_id;
  c.nas_port_type = in.nas_port_type;
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
void decide(const std::string& policy_file, const policy::AccessContext& c, const std::string& refused,
            ca::UnixTime at, nlohmann::json& out) {
  auto engine = make_policy_engine();
  if (!policy_file.empty()) engine->load_file(policy_file);  // PolicyError: file:line
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

}  // namespace

std::uint32_t parse_nas_port_type(const std::string& text) {
  std::uint32_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc{} && ptr == text.data() + text.size()) return n;
  const radius::Attribute a = radius::Dictionary::load().parse_value("NAS-Port-Type", text);  // throws for unknown names
  return (std::uint32_t{a.value[0]} << 24) | (std::uint32_t{a.value[1]} << 16) | (std::uint32_t{a.value[2]} << 8) |
         a.value[3];
}

nlohmann::json policy_test(const PolicyTestInput& in, const PolicyTestSources& sources) {
  ca::Device device;
  std::optional<ca::CertificateRecord> cert;
  if (!in.device.empty()) {
    device = find_device(*sources.ledger, in.device, sources.ledger_location);
    cert = newest_valid(*sources.ledger, device.id, in.at);
  } else {
    device.enabled = true;  // groups alone: a device that holds a valid certificate
  }
  const policy::AccessContext c = access_context(in, sources, device, cert);
  nlohmann::json out = {{"device", device.name},
                        {"device_id", in.device.empty() ? nlohmann::json(nullptr) : nlohmann::json(device.id)},
                        {"groups", c.device_groups},
                        {"nas", c.nas_name},
                        {"nas_groups", c.nas_groups},
                        {"ssid", in.ssid},
                        {"at", admin::iso8601(in.at)},
                        {"policy_file", sources.policy_file}};
  if (cert) {
    out["serial"] = cert->serial_hex;
    out["profile"] = cert->profile;
    out["subject"] = cert->subject;
    out["not_after"] = admin::iso8601(cert->not_after);
  }
  // What the RADIUS server checks before the policy (ca::IdentityIndex verdicts).
  std::string refused;
  if (!device.enabled) refused = "device_disabled";
  else if (!cert && !in.device.empty()) refused = "no valid certificate at that time";
  decide(sources.policy_file, c, refused, in.at, out);
  return out;
}

}  // namespace portcullis::app
