// spdlog set-up: text or one JSON object a line, to stderr or a file.
// Nothing in Portcullis logs keys, secrets, tokens or challenges; this module only shapes
// the lines.
#pragma once

#include <string>
#include <string_view>

namespace portcullis::app {

struct ServiceSettings;

void setup_logging(const ServiceSettings& settings);
void set_log_level(const std::string& level);

// `message` as the inside of a JSON string (RFC 8259 §7, without the quotes), for the json
// log format: quotes, backslashes and control characters escaped, and a byte sequence that
// is not UTF-8 replaced by U+FFFD so that every line stays valid JSON.
std::string json_string_body(std::string_view message);

}  // namespace portcullis::app
