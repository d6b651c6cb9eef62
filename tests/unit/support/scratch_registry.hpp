// A ledger that CA set-up in tests issues the service certificates (RA, EAP server, admin)
// into, for fixtures whose own ledgers come later or per test: one per test process, in a
// temporary folder removed at exit.
#pragma once

#include "ca/identity_index.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/registry.hpp"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace portcullis::testing {

class ScratchRegistry {
 public:
  ScratchRegistry() {
    std::string pattern = (std::filesystem::temp_directory_path() / "portcullis-scratch-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    ledger_ = ca::open_sqlite_ledger(dir_ + "/ledger.db");
    registry_ = std::make_unique<ca::Registry>(*ledger_, index_);
  }
  ~ScratchRegistry() {
    registry_.reset();
    ledger_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  ScratchRegistry(const ScratchRegistry&) = delete;
  ScratchRegistry& operator=(const ScratchRegistry&) = delete;

  ca::Registry& registry() { return *registry_; }

 private:
  std::string dir_;
  std::unique_ptr<ca::Ledger> ledger_;
  ca::IdentityIndex index_;
  std::unique_ptr<ca::Registry> registry_;
};

inline ca::Registry& scratch_registry() {
  static ScratchRegistry scratch;
  return scratch.registry();
}

}  // namespace portcullis::testing
