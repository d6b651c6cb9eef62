// The bridge from policy/ to the RADIUS dictionary: policy rules name reply attributes
// ("Filter-Id", "Aruba-User-Role", "Tunnel-Private-Group-Id:1"); this resolves them once,
// at rule load time, into wire attributes (vendor ones wrapped in Vendor-Specific, RFC
// 2865 §5.26; tags per RFC 2868). policy/ stays free of libfreeradius.
#pragma once

#include "policy/rule_file.hpp"
#include "radius/dictionary.hpp"

namespace portcullis::radius {

// The dictionary must outlive the resolver (Dictionary::load() returns a process-wide one).
policy::AttributeResolver dictionary_resolver(const Dictionary& dictionary);

}  // namespace portcullis::radius
