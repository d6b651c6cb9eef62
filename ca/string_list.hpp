// A list of strings stored in one TEXT column as a JSON array (RFC 8259), so that the
// ledger stays readable with SQLite's json_each() or jq and a PostgreSQL backend can use
// a json column. ca/ has no JSON library dependency, and this is all it needs. Private.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace portcullis::ca::detail {

std::string encode_string_list(const std::vector<std::string>& items);
// Throws std::invalid_argument on anything but a JSON array of strings.
std::vector<std::string> decode_string_list(std::string_view json);

}  // namespace portcullis::ca::detail
