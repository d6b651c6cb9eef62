// A list of strings stored in one TEXT column as a compact JSON array (RFC 8259), so that
// the ledger stays readable with SQLite's json_each() or jq and a PostgreSQL backend can use
// a json column. Private to ca/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace portcullis::ca::detail {

// ["a","b"]: no spaces; '"', '\' and control characters escaped, all else (UTF-8) as is.
// Throws std::invalid_argument when an item is not valid UTF-8.
std::string encode_string_list(const std::vector<std::string>& items);
// Throws std::invalid_argument on anything but a JSON array of strings.
std::vector<std::string> decode_string_list(std::string_view json);

}  // namespace portcullis::ca::detail
