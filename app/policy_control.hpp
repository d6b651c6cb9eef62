// The access policy as the service runs it: one policy::Engine backed by the RADIUS
// dictionary, loaded at start-up and reloaded by SIGHUP and POST /api/v1/policy/reload.
#pragma once

#include "policy/engine.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <vector>
#include <string>
#include <string_view>

namespace portcullis::app {

// An engine whose reply attributes resolve through radius::Dictionary (loads it once).
std::unique_ptr<policy::Engine> make_policy_engine();

// Loads `file` (empty: no rules, every valid device accepted) and logs the outcome with
// `trigger` ("start-up", "SIGHUP", "api:admin"). Throws policy::PolicyError with the
// file:line message and keeps the running rules when the file is refused.
std::size_t reload_policy(policy::Engine& engine, const std::string& file, std::string_view trigger);

// The same in two steps, for SIGHUP, which swaps the NAS table and the rules together:
// `file` parsed (a refusal logged and thrown as above, nothing changed), then `apply`
// runs `install` (the rules start deciding) at the moment of its choosing.
std::size_t reload_policy_with(policy::Engine& engine, const std::string& file, std::string_view trigger,
                               const std::function<void(const std::function<void()>& install)>& apply);

// What the admin API needs: the engine and the file the running config names.
struct PolicyControl {
  policy::Engine* engine = nullptr;  // null: no policy routes (404)
  std::string file;
  // The groups of the NAS client named so (POST /policy/test); nullopt for an unknown name.
  std::function<std::optional<std::vector<std::string>>(const std::string& nas)> nas_groups = {};
};

}  // namespace portcullis::app
