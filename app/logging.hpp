// spdlog set-up: text or one JSON object a line, to stderr or a file.
// Nothing in Portcullis logs keys, secrets, tokens or challenges; this module only shapes
// the lines.
#pragma once

#include <string>

namespace portcullis::app {

struct ServiceSettings;

void setup_logging(const ServiceSettings& settings);
void set_log_level(const std::string& level);

}  // namespace portcullis::app
