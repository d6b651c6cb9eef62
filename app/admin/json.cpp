// JSON shapes and input checks for the admin API (see json.hpp).
#include "app/admin/json.hpp"

#include "ca/x509.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>

namespace portcullis::app::admin {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil):
// timegm() is not POSIX, and this is short.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Fixed-width decimal field at text[pos, pos+len).
std::optional<int> digits_at(std::string_view text, std::size_t pos, std::size_t len) {
  int value = 0;
  for (std::size_t i = pos; i < pos + len; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// Decodes one UTF-8 sequence at s[i] (RFC 3629 §4, no overlongs, no surrogates); returns
// its length and sets cp, or 0 for invalid input.
std::size_t utf8_next(std::string_view s, std::size_t i, std::uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return len;
}

}  // namespace

std::string iso8601(ca::UnixTime t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (gmtime_r(&tt, &tm) == nullptr) return {};
  char buf[32];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

const char* certificate_status(const ca::CertificateRecord& record, ca::UnixTime now) {
  if (record.revoked) return "revoked";
  if (now > record.not_after) return "expired";
  return "valid";
}

json device_json(const ca::Device& device) {
  return json{{"id", device.id},
              {"name", device.name},
              {"display_name", device.display_name},
              {"owner", device.owner},
              {"groups", device.groups},
              {"enabled", device.enabled},
              {"created_at", iso8601(device.created_at)},
              {"created_at_unix", device.created_at}};
}

json certificate_json(const ca::CertificateRecord& record, const std::string& device_name, ca::UnixTime now,
                      bool with_pem) {
  json out{{"serial", record.serial_hex},
           {"device_id", record.device_id},
           {"device", device_name},
           {"profile", record.profile},
           {"subject", record.subject},
           {"sans", record.sans},
           {"sha256_fingerprint", record.sha256_fingerprint},
           {"not_before", iso8601(record.not_before)},
           {"not_before_unix", record.not_before},
           {"not_after", iso8601(record.not_after)},
           {"not_after_unix", record.not_after},
           {"issued_at", iso8601(record.issued_at)},
           {"issued_at_unix", record.issued_at},
           {"status", certificate_status(record, now)}};
  if (record.revoked) {
    out["revoked_at"] = iso8601(record.revoked_at);
    out["revoked_at_unix"] = record.revoked_at;
    out["revocation_reason"] = ca::to_string(record.revocation_reason);
  }
  if (with_pem && !record.der.empty()) out["pem"] = ca::cert_to_pem(ca::cert_from_der(record.der).get());
  return out;
}

json audit_json(const ca::AuditEntry& entry) {
  return json{{"id", entry.id},         {"at", iso8601(entry.at)},   {"at_unix", entry.at},
              {"actor", entry.actor},   {"action", entry.action},    {"target", entry.target},
              {"detail", entry.detail}};
}

HttpResponse json_response(int status, const json& body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  // Ledger text (subjects from CSRs) is not guaranteed UTF-8: replace rather than throw.
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  // Admin data must not linger in shared or browser caches.
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

HttpResponse error_response(int status, const std::string& reason) {
  return json_response(status, json{{"error", reason}});
}

std::optional<ca::UnixTime> parse_time(std::string_view text) {
  if (!text.empty() && text.size() <= 12 && all_digits(text)) {
    ca::UnixTime value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
  }
  if (text.size() != 10 && text.size() != 20) return std::nullopt;
  if (text[4] != '-' || text[7] != '-') return std::nullopt;
  auto y = digits_at(text, 0, 4), m = digits_at(text, 5, 2), d = digits_at(text, 8, 2);
  if (!y || !m || !d || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m)) return std::nullopt;
  ca::UnixTime t = days_from_civil(*y, static_cast<unsigned>(*m), static_cast<unsigned>(*d)) * 86400;
  if (text.size() == 10) return t;
  if (text[10] != 'T' || text[13] != ':' || text[16] != ':' || text[19] != 'Z') return std::nullopt;
  auto hh = digits_at(text, 11, 2), mm = digits_at(text, 14, 2), ss = digits_at(text, 17, 2);
  if (!hh || !mm || !ss || *hh > 23 || *mm > 59 || *ss > 59) return std::nullopt;
  return t + *hh * 3600 + *mm * 60 + *ss;
}

json parse_body(const HttpRequest& request, std::initializer_list<std::string_view> allowed, bool body_optional) {
  const bool blank = std::all_of(request.body.begin(), request.body.end(),
                                 [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
  if (blank) {
    if (body_optional) return json::object();
    throw ApiError(400, "the request body must be a JSON object");
  }
  if (const std::string* type = request.header("content-type")) {
    std::string media = type->substr(0, type->find(';'));
    media.erase(std::remove(media.begin(), media.end(), ' '), media.end());
    std::transform(media.begin(), media.end(), media.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (media != "application/json") throw ApiError(415, "expected Content-Type: application/json");
  }
  json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) throw ApiError(400, "malformed JSON in the request body");
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
  for (const auto& item : body.items()) {
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end())
      throw ApiError(400, "unknown field '" + checked_text(item.key(), "field name", 0, 64) + "'");
  }
  return body;
}

std::optional<std::string> string_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw ApiError(400, std::string("field '") + name + "' must be a string");
  return it->get<std::string>();
}

std::vector<std::string> string_list_field(const json& body, const char* name, std::size_t max_items,
                                           std::size_t max_chars) {
  std::vector<std::string> out;
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return out;
  const std::string what = std::string("field '") + name + "' must be an array of at most " +
                           std::to_string(max_items) + " strings";
  if (!it->is_array() || it->size() > max_items) throw ApiError(400, what);
  for (const auto& item : *it) {
    if (!item.is_string()) throw ApiError(400, what);
    out.push_back(checked_text(item.get<std::string>(), name, 1, max_chars));
  }
  return out;
}

std::optional<bool> bool_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw ApiError(400, std::string("field '") + name + "' must be true or false");
  return it->get<bool>();
}

std::string checked_text(const std::string& value, const char* what, std::size_t min_chars, std::size_t max_chars) {
  const std::string range = std::to_string(min_chars) + " to " + std::to_string(max_chars);
  std::size_t chars = 0;
  for (std::size_t i = 0; i < value.size();) {
    std::uint32_t cp = 0;
    std::size_t len = utf8_next(value, i, cp);
    if (len == 0) throw ApiError(400, std::string(what) + " is not valid UTF-8");
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F))
      throw ApiError(400, std::string(what) + " must not contain control characters");
    i += len;
    ++chars;
  }
  if (chars < min_chars || chars > max_chars)
    throw ApiError(400, std::string(what) + " must be " + range + " characters long");
  if (!value.empty() && (value.front() == ' ' || value.back() == ' '))
    throw ApiError(400, std::string(what) + " must not start or end with a space");
  return value;
}

std::string checked_device_name(const std::string& value) {
  checked_text(value, "device name", 1, 128);
  if (all_digits(value)) throw ApiError(400, "device name must not be all digits (a number means a device id)");
  return value;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void check_query(const std::map<std::string, std::string>& query, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : query) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      throw ApiError(400, "unknown query parameter '" + checked_text(key, "query parameter name", 0, 64) + "'");
  }
}

const std::string* query_param(const std::map<std::string, std::string>& query, const char* name) {
  auto it = query.find(name);
  return it == query.end() || it->second.empty() ? nullptr : &it->second;
}

std::size_t count_param(const std::map<std::string, std::string>& query, const char* name, std::size_t fallback,
                        std::size_t min, std::size_t max) {
  const std::string* text = query_param(query, name);
  if (text == nullptr) return fallback;
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < min || value > max)
    throw ApiError(400, std::string(name) + " must be an integer from " + std::to_string(min) + " to " +
                            std::to_string(max));
  return value;
}

ca::RevocationReason reason_field(const json& body) {
  auto text = string_field(body, "reason");
  if (!text || text->empty()) return ca::RevocationReason::unspecified;
  auto reason = ca::parse_revocation_reason(*text);
  if (!reason)
    throw ApiError(400, "unknown revocation reason '" + checked_text(*text, "reason", 0, 64) +
                            "' (RFC 5280 names such as keyCompromise, superseded, cessationOfOperation)");
  return *reason;
}

std::string checked_serial(const std::string& text) {
  std::string hex;
  for (char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) throw ApiError(400, "a serial number is hexadecimal");
    hex.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (hex.empty() || hex.size() > 40) throw ApiError(400, "a serial number is 1 to 20 octets of hexadecimal");
  return hex;
}

}  // namespace portcullis::app::admin
