// Text from a peer (a SCEP requester's CSR, a NAS's attributes, an EAP identity) made safe
// for a log line: a CR, LF or NUL in it must not end the line and forge the next one, nor
// an escape sequence drive the operator's terminal.
#pragma once

#include <string>
#include <string_view>

namespace portcullis::ca {

// `text` with every byte outside printable ASCII (0x20..0x7E) replaced by '?'; the same
// length, so a value stays recognisable and comparable across lines.
std::string log_safe(std::string_view text);

}  // namespace portcullis::ca
