#include "app/policy_control.hpp"

#include "radius/dictionary.hpp"
#include "radius/reply_resolver.hpp"

#include <spdlog/spdlog.h>

namespace portcullis::app {

std::unique_ptr<policy::Engine> make_policy_engine() {
  return std::make_unique<policy::Engine>(radius::dictionary_resolver(radius::Dictionary::load()));
}

std::size_t reload_policy(policy::Engine& engine, const std::string& file, std::string_view trigger) {
  return reload_policy_with(engine, file, trigger, [](const std::function<void()>& install) { install(); });
}

std::size_t reload_policy_with(policy::Engine& engine, const std::string& file, std::string_view trigger,
                               const std::function<void(const std::function<void()>& install)>& apply) {
  std::shared_ptr<policy::RuleSet> fresh;
  try {
    fresh = engine.prepare_file(file);
  } catch (const policy::PolicyError& e) {
    spdlog::error("policy ({}): rules not reloaded, keeping the {} running rule(s) from {}: {}", trigger,
                  engine.rule_count(), engine.origin().empty() ? "(none)" : engine.origin(), e.what());
    throw;
  }
  std::size_t n = 0;
  apply([&] { n = engine.install(std::move(fresh)); });
  if (file.empty()) {
    spdlog::info("policy ({}): no policy file configured; every valid device is accepted with no extra attributes",
                 trigger);
  } else {
    spdlog::info("policy ({}): {} rule(s) loaded from {}", trigger, n, file);
  }
  return n;
}

}  // namespace portcullis::app
