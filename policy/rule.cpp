#include "policy/rule.hpp"

#include <algorithm>

namespace portcullis::policy {

const char* to_string(SessionAction action) { return action == SessionAction::coa ? "coa" : "disconnect"; }

std::uint32_t capped_session_timeout(std::optional<std::uint32_t> rule_timeout, std::uint32_t max_timeout,
                                     ca::UnixTime cert_not_after, ca::UnixTime now) {
  ca::UnixTime t = std::max<ca::UnixTime>(1, max_timeout);
  if (rule_timeout) t = std::min<ca::UnixTime>(t, *rule_timeout);
  // notAfter is inclusive (RFC 5280 §4.1.2.5), and a certificate that expires this very
  // second still gets a 1-second session rather than 0 ("no limit" to some NASes).
  t = std::min<ca::UnixTime>(t, cert_not_after - now);
  return static_cast<std::uint32_t>(std::max<ca::UnixTime>(1, t));
}

bool Rule::applies(const Facts& facts) const {
  return std::all_of(conditions.begin(), conditions.end(), [&](const ConditionPtr& c) { return c->matches(facts); });
}

std::string Rule::summary() const {
  std::string out;
  for (const auto& c : conditions) out += (out.empty() ? "" : " and ") + c->describe();
  if (out.empty()) out = "any device";
  return out + " -> " + describe_action(decision);
}

std::string describe_action(const Decision& d) {
  if (!d.accept) return "reject: " + d.reason;
  std::string out = "accept";
  for (const auto& a : d.reply) out += " " + a.name + "=" + a.value_text;
  if (d.session_timeout) out += " session_timeout=" + std::to_string(*d.session_timeout);
  if (d.on_disable == SessionAction::coa) {
    out += " on_disable=coa";
    for (const auto& a : d.coa_reply) out += " coa:" + a.name + "=" + a.value_text;
  }
  return out;
}

const Decision& RuleSet::decide(const AccessContext& context) const {
  const Facts facts(context);
  for (const auto& rule : rules) {
    if (rule->applies(facts)) {
      rule->matches.fetch_add(1, std::memory_order_relaxed);
      return rule->decision;
    }
  }
  fallback_matches.fetch_add(1, std::memory_order_relaxed);
  return fallback;
}

const Rule* RuleSet::find(const std::string& name) const {
  for (const auto& rule : rules)
    if (rule->name == name) return rule.get();
  return nullptr;
}

}  // namespace portcullis::policy
