// Shell-style patterns for subject and SAN conditions: `*` any run of characters (also
// none), `?` exactly one, everything else literal. ASCII case-insensitive, because DNS
// names (RFC 4343) and e-mail domains are, and a rule author writing "CN=Laptop-*" means
// the same device as "cn=laptop-*". No character classes: nothing in a DN needs them.
#pragma once

#include <string_view>

namespace portcullis::policy {

// Linear in |pattern| * |text| at worst (greedy star with one backtrack point), so a
// hostile certificate subject cannot make a rule explode.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace portcullis::policy
