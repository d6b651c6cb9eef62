#include "app/policy_control.hpp"

#include "radius/dictionary.hpp"
#include "radius/reply_resolver.hpp"

#include <spdlog/spdlog.h>

namespace portcullis::app {

std::unique_ptr<policy::Engine> make_policy_engine() {
  return std::make_unique<policy::Engine>(radius::dictionary_resolver(radius::Dictionary::load()));
}

std::size_t reload_policy(policy::Engine& engine, const std::string& file, std::string_view trigger) {
  if (file.empty()) {
    engine.clear();
    spdlog::info("policy ({}): no policy file configured; every valid device is accepted with no extra attributes",
                 trigger);
    return 0;
  }
  try {
    const std::size_t n = engine.load_file(file);
    spdlog::info("policy ({}): {} rule(s) loaded from {}", trigger, n, file);
    return n;
  } catch (const policy::PolicyError& e) {
    spdlog::error("policy ({}): rules not reloaded, keeping the {} running rule(s) from {}: {}", trigger,
                  engine.rule_count(), engine.origin().empty() ? "(none)" : engine.origin(), e.what());
    throw;
  }
}

}  // namespace portcullis::app
