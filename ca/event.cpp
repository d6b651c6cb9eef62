// MAC normalisation for events (event.hpp).
#include "ca/event.hpp"

namespace portcullis::ca {

std::optional<std::string> normalize_mac(std::string_view text) {
  // Written in place: digit d goes to (d / 2) * 3 + d % 2, the colons stay.
  std::string out(17, ':');
  std::size_t digits = 0;
  for (const char c : text) {
    if (c == ':' || c == '-' || c == '.') continue;
    const char lower = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!((lower >= '0' && lower <= '9') || (lower >= 'a' && lower <= 'f'))) return std::nullopt;
    if (digits == 12) return std::nullopt;
    out[digits / 2 * 3 + digits % 2] = lower;
    ++digits;
  }
  if (digits != 12) return std::nullopt;
  return out;
}

}  // namespace portcullis::ca
