// The one logging seam of the EAP layer: a plain callback, so that this library needs no
// logging framework and tests can capture every line. The lines never contain keys,
// secrets or TLS payload bytes, only states, sizes, identifiers and reasons.
#pragma once

#include <functional>
#include <string_view>

namespace portcullis::radius::eap {

using LogSink = std::function<void(std::string_view line)>;

}  // namespace portcullis::radius::eap
