// The dictionary-based reply attribute resolver (radius/reply_resolver over
// Dictionary::parse_value and libfreeradius): "Name[:tag]" and a FreeRADIUS-syntax value
// into one wire attribute. Input: the tag octet, then name '\n' value. DictionaryError is
// the only way out; what comes back must fit one RADIUS attribute (RFC 2865 §5).
#include "radius/dictionary.hpp"
#include "radius/reply_resolver.hpp"

#include <string_view>

using namespace portcullis;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const policy::AttributeResolver resolver = radius::dictionary_resolver(radius::Dictionary::load());
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t nl = rest.find('\n');
  const std::string_view name = rest.substr(0, nl);
  const std::string_view value = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  try {
    const policy::ReplyAttribute a = resolver(name, value, data[0]);
    if (a.type == 0 || a.value.size() > 253) __builtin_trap();
  } catch (const radius::DictionaryError&) {
  }
  return 0;
}
