// One rule (conditions -> decision, with its match counter) and an immutable, ordered set
// of them. A RuleSet is built once by rule_file.cpp and never changed afterwards, except
// for the atomic counters, so any number of threads may decide on it while a reload
// builds the next one (policy/engine.hpp swaps them).
#pragma once

#include "policy/conditions.hpp"
#include "policy/decision.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace portcullis::policy {

struct Rule {
  std::string name;
  std::size_t line = 0;                  // of its [[rule]] header
  std::vector<ConditionPtr> conditions;  // all must hold; none = matches every device
  Decision decision;                     // returned (copied) when the rule matches
  mutable std::atomic<std::uint64_t> matches{0};

  bool applies(const Facts& facts) const;
  std::string summary() const;  // "device_groups in [staff] and ssid in [corp] -> accept vlan=20"
};

class RuleSet {
 public:
  std::string origin;                    // file path or "<text>"; "" = no rules configured
  std::vector<std::unique_ptr<Rule>> rules;
  Decision fallback;                     // when no rule matches: accept (or `default = "reject"`)
  mutable std::atomic<std::uint64_t> fallback_matches{0};

  // First match wins; counts it.
  const Decision& decide(const AccessContext& context) const;
  const Rule* find(const std::string& name) const;
};

// "accept vlan=20 session_timeout=3600 reply Filter-Id=staff" / "reject: outside office hours"
std::string describe_action(const Decision& decision);

}  // namespace portcullis::policy
