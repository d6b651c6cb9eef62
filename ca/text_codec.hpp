// Small text codecs the route handlers share: percent-decoding of path segments and query
// strings, for every HTTP front end (SCEP, admin API, CRL/OCSP). Pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portcullis::ca {

// Percent-decodes (RFC 3986 §2.1). '+' stays '+' unless plus_is_space (HTML form encoding
// of query strings, WHATWG application/x-www-form-urlencoded). nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space = false);

// Splits "a=1&b=x%20y" into its key=value pairs, in order and undecoded (for readers with
// their own decoding rules); empty pairs are skipped, a missing '=' gives an empty value.
std::vector<std::pair<std::string_view, std::string_view>> split_query(std::string_view query);

// Splits "a=1&b=x%20y" into decoded pairs; a later duplicate key wins. nullopt on a
// malformed escape.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);

// Splits a path into its non-empty segments, each percent-decoded ("/a/b%2Fc" -> {"a", "b/c"}).
// nullopt on a malformed escape.
std::optional<std::vector<std::string>> split_path(std::string_view path);

}  // namespace portcullis::ca
