// The access policy engine: an ordered rule set (first match decides) turning an
// authenticated device into Accept-with-reply-attributes or Reject. Pure: no sockets, no
// threads of its own; decide() is safe from any thread while load_*() swaps the rule set
// (readers keep the immutable set they started with, so a reload never drops traffic).
//
// Match counters carry over a reload by rule name: a rule that keeps its name keeps its
// count (the admin API shows traffic since start, not since the last edit); a renamed or
// new rule starts at 0. A match decided on the old set in the instant of the swap may be
// counted on the old set only (it is still logged with its rule name).
#pragma once

#include "policy/access_context.hpp"
#include "policy/decision.hpp"
#include "policy/rule_file.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::policy {

struct RuleStats {
  std::string name;
  std::size_t line = 0;     // where the rule starts in its file
  std::string summary;      // conditions -> action, one line
  std::uint64_t matches = 0;
};

class RuleSet;

class Engine final : public Decider {
 public:
  explicit Engine(AttributeResolver resolver);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Parse and validate the whole file first; on any error throw PolicyError naming the
  // origin and line and keep the current rules. An empty file (or none loaded) accepts
  // every valid device with no extra attributes. Returns the number of rules loaded.
  std::size_t load_file(const std::string& path);
  std::size_t load_text(std::string_view toml, const std::string& origin);
  // Back to "no rules" (the config names no policy file).
  void clear();
  // The two halves of load_file, for a reload that swaps more than the rules (SIGHUP with
  // the NAS table): the file parsed and validated but not deciding yet (PolicyError as
  // load_file; an empty path is "no rules"), then made to decide. Returns the rule count.
  std::shared_ptr<RuleSet> prepare_file(const std::string& path) const;
  std::size_t install(std::shared_ptr<RuleSet> fresh);

  Decision decide(const AccessContext& context) const override;

  std::vector<RuleStats> stats() const;  // per rule, in order, with match counters
  std::uint64_t default_matches() const; // decisions no rule matched
  std::string origin() const;            // the file (or origin) the current rules came from; "" = none
  std::size_t rule_count() const;

 private:
  void swap_in(std::shared_ptr<RuleSet> fresh);  // with load_mutex_ held

  AttributeResolver resolver_;
  std::mutex load_mutex_;                          // one reload at a time (SIGHUP vs admin API)
  std::atomic<std::shared_ptr<const RuleSet>> rules_;
};

}  // namespace portcullis::policy
