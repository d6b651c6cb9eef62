// What `portcullis policy test` and POST /api/v1/policy/test answer: which rule of a policy
// file decides for a device (or for groups alone) on a NAS and SSID at an instant, and the
// reply it gets, with the same engine, dictionary and checks the RADIUS server uses. One
// JSON shape for both (docs/policy.md):
//   {"device","device_id","groups","nas","nas_groups","ssid","at","policy_file",
//    ["serial","profile","subject","not_after"], "accept","rule","rule_line"?,"reason"?,
//    "reply"?:[{"name","value"}…],"session_timeout"?,"on_disable"?}
#pragma once

#include "ca/ledger/ledger.hpp"
#include "ca/records.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace portcullis::app {

// An input that names nothing known (a device, a NAS): the CLI prints it, the API answers 404.
class PolicyTestNotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PolicyTestInput {
  std::string device;                               // id or name; "" = no device, `groups` alone
  std::optional<std::vector<std::string>> groups;   // instead of the device's groups
  std::string nas;                                  // a [[radius.clients]] name; "" = none
  std::string ssid;
  std::string called_station_id;                    // "" = "00-00-00-00-00-00:<ssid>" when ssid is set
  std::string calling_station_id;
  std::optional<std::uint32_t> nas_port_type;
  ca::UnixTime at = 0;
};

struct PolicyTestSources {
  ca::Ledger* ledger = nullptr;
  std::string ledger_location;   // for messages
  // The groups of the NAS client named so; nullopt for an unknown name.
  std::function<std::optional<std::vector<std::string>>(const std::string& nas)> nas_groups;
  std::string policy_file;       // "" = no rules
  std::string config_path;       // for messages
};

// Throws PolicyTestNotFound, and policy::PolicyError when the policy file is refused.
nlohmann::json policy_test(const PolicyTestInput& input, const PolicyTestSources& sources);

// A NAS-Port-Type name ("Wireless-802.11") or number; throws std::invalid_argument.
std::uint32_t parse_nas_port_type(const std::string& text);

}  // namespace portcullis::app
