// The policy file (TOML, format in docs/policy.md) -> an
// immutable RuleSet. Everything is checked here, before any rule is used: unknown keys,
// value types and ranges, duplicate names, and every reply attribute resolved through the
// RADIUS dictionary. Any error throws PolicyError "origin:line: rule 'name': what".
#pragma once

#include "policy/decision.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace portcullis::policy {

// "policy.toml:12: rule 'staff': unknown attribute 'Filter-Idd'": origin and line.
class PolicyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Resolves "Name" = "value" (optional RFC 2868 tag, or "Name:tag") through the RADIUS
// dictionary; throws std::exception with a readable message for an unknown name or a bad
// value. The app passes one backed by radius::Dictionary (radius/reply_resolver.hpp);
// policy/ itself knows no dictionary.
using AttributeResolver =
    std::function<ReplyAttribute(std::string_view name, std::string_view value, std::uint8_t tag)>;

class RuleSet;

std::shared_ptr<RuleSet> parse_rule_file(std::string_view toml, const std::string& origin,
                                         const AttributeResolver& resolver);

}  // namespace portcullis::policy
