#include "policy/engine.hpp"

#include "policy/rule.hpp"

#include <fstream>
#include <sstream>

namespace portcullis::policy {

Engine::Engine(AttributeResolver resolver) : resolver_(std::move(resolver)) {
  rules_.store(std::make_shared<const RuleSet>());
}

Engine::~Engine() = default;

namespace {

std::string read_policy_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PolicyError(path + ": cannot read the policy file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw PolicyError(path + ": read error");
  return text.str();
}

}  // namespace

std::size_t Engine::load_file(const std::string& path) { return load_text(read_policy_file(path), path); }

std::shared_ptr<RuleSet> Engine::prepare_file(const std::string& path) const {
  if (path.empty()) return std::make_shared<RuleSet>();
  return parse_rule_file(read_policy_file(path), path, resolver_);
}

std::size_t Engine::install(std::shared_ptr<RuleSet> fresh) {
  std::lock_guard lock(load_mutex_);
  const std::size_t n = fresh->rules.size();
  swap_in(std::move(fresh));
  return n;
}

std::size_t Engine::load_text(std::string_view toml, const std::string& origin) {
  std::lock_guard lock(load_mutex_);
  auto fresh = parse_rule_file(toml, origin, resolver_);  // throws: the current set stays
  const std::size_t n = fresh->rules.size();
  swap_in(std::move(fresh));
  return n;
}

void Engine::clear() {
  std::lock_guard lock(load_mutex_);
  swap_in(std::make_shared<RuleSet>());
}

// Under load_mutex_. Counters move over by rule name before the swap; readers that still
// hold the old set finish on it and count there.
void Engine::swap_in(std::shared_ptr<RuleSet> fresh) {
  const auto old = rules_.load();
  for (auto& rule : fresh->rules)
    if (const Rule* before = old->find(rule->name)) rule->matches.store(before->matches.load());
  fresh->fallback_matches.store(old->fallback_matches.load());
  rules_.store(std::move(fresh));
}

Decision Engine::decide(const AccessContext& context) const { return rules_.load()->decide(context); }

std::vector<RuleStats> Engine::stats() const {
  const auto set = rules_.load();
  std::vector<RuleStats> out;
  out.reserve(set->rules.size());
  for (const auto& rule : set->rules)
    out.push_back(RuleStats{rule->name, rule->line, rule->summary(), rule->matches.load(std::memory_order_relaxed)});
  return out;
}

std::uint64_t Engine::default_matches() const { return rules_.load()->fallback_matches.load(); }
std::string Engine::origin() const { return rules_.load()->origin; }
std::size_t Engine::rule_count() const { return rules_.load()->rules.size(); }

}  // namespace portcullis::policy
