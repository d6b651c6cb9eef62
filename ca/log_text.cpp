// Peer text made printable for log lines (log_text.hpp).
#include "ca/log_text.hpp"

namespace portcullis::ca {

std::string log_safe(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7E) c = '?';
  }
  return out;
}

std::string log_safe(std::span<const std::uint8_t> bytes) {
  return log_safe(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string log_field(std::string_view text) { return text.empty() ? "-" : log_safe(text); }

}  // namespace portcullis::ca
