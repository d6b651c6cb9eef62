// MAC normalisation for events (event.hpp).
#include "ca/event.hpp"

namespace portcullis::ca {

std::optional<std::string> normalize_mac(std::string_view text) {
  std::string digits;
  for (const char c : text) {
    if (c == ':' || c == '-' || c == '.') continue;
    const char lower = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!((lower >= '0' && lower <= '9') || (lower >= 'a' && lower <= 'f'))) return std::nullopt;
    if (digits.size() == 12) return std::nullopt;
    digits.push_back(lower);
  }
  if (digits.size() != 12) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < 12; i += 2) {
    if (i > 0) out.push_back(':');
    out.append(digits, i, 2);
  }
  return out;
}

}  // namespace portcullis::ca
