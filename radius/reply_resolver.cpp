#include "radius/reply_resolver.hpp"

namespace portcullis::radius {

policy::AttributeResolver dictionary_resolver(const Dictionary& dictionary) {
  return [&dictionary](std::string_view name, std::string_view value, std::uint8_t tag) {
    // parse_value refuses unknown names, bad values, per-packet encrypted attributes and
    // anything that is not a classic RFC 2865 attribute, with a readable message.
    Attribute a = dictionary.parse_value(name, value, tag);
    policy::ReplyAttribute out;
    out.name = std::string(name);
    out.value_text = std::string(value);
    out.type = a.type;
    out.value = std::move(a.value);
    return out;
  };
}

}  // namespace portcullis::radius
