// Text from a peer (a SCEP requester's CSR, a NAS's attributes, an EAP identity) made safe
// for a log line: a CR, LF or NUL in it must not end the line and forge the next one, nor
// an escape sequence drive the operator's terminal.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace portcullis::ca {

// `text` with every byte outside printable ASCII (0x20..0x7E) replaced by '?'; the same
// length, so a value stays recognisable and comparable across lines.
std::string log_safe(std::string_view text);
// The same for octets from the wire (an EAP identity, an attribute value).
std::string log_safe(std::span<const std::uint8_t> bytes);
// log_safe(text) as one field of a log line: "-" when empty, so the fields stay apart.
std::string log_field(std::string_view text);

// A C0 control character or DEL: what names and reasons headed for logs, the audit and the
// admin API may not hold. Header only: policy/ checks its rule reasons with it.
inline bool has_control_characters(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7F;
  });
}

}  // namespace portcullis::ca
