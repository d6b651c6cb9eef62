// MAC normalisation for events (event.hpp).
#include "ca/event.hpp"

namespace portcullis::ca {

std::string_view utf8_prefix(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  // Back off over continuation bytes (10xxxxxx) to the start of the character cut in two.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

void bound_text(Event& event) {
  for (std::string* field : {&event.kind, &event.outcome, &event.reason, &event.detail, &event.nas, &event.nas_ip,
                             &event.mac, &event.user_name, &event.ssid, &event.serial, &event.device, &event.issuer,
                             &event.tls_version, &event.rule, &event.cn, &event.transaction_id}) {
    if (field->size() > kEventTextMax) field->resize(utf8_prefix(*field, kEventTextMax).size());
  }
}

bool well_formed(const Event& event) {
  const bool known_kind = event.kind == event_kind::kRadius || event.kind == event_kind::kScep ||
                          event.kind == event_kind::kDynauth || event.kind == event_kind::kNas ||
                          event.kind == event_kind::kRadsec;
  return known_kind && !event.outcome.empty();
}

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
