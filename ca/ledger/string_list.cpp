#include "ca/ledger/string_list.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace portcullis::ca::detail {

std::string encode_string_list(const std::vector<std::string>& items) {
  try {
    return nlohmann::json(items).dump();
  } catch (const nlohmann::json::exception&) {
    // The item is not echoed: it is not printable.
    throw std::invalid_argument("a string list item is not valid UTF-8");
  }
}

std::vector<std::string> decode_string_list(std::string_view json) {
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_array()) throw std::invalid_argument("malformed JSON string list");
  std::vector<std::string> items;
  items.reserve(doc.size());
  for (const auto& item : doc) {
    if (!item.is_string()) throw std::invalid_argument("malformed JSON string list");
    items.push_back(item.get<std::string>());
  }
  return items;
}

}  // namespace portcullis::ca::detail
