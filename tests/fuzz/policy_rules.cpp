// The access policy rule file (policy/rule_file, TOML) with the real dictionary-based
// resolver for reply attributes (radius/reply_resolver): PolicyError is the only way out
// for a bad file.
#include "policy/rule_file.hpp"
#include "radius/dictionary.hpp"
#include "radius/reply_resolver.hpp"

#include <string_view>

using namespace portcullis;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const policy::AttributeResolver resolver = radius::dictionary_resolver(radius::Dictionary::load());
  try {
    (void)policy::parse_rule_file(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.toml", resolver);
  } catch (const policy::PolicyError&) {
  }
  return 0;
}
