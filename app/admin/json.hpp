// The admin API's JSON vocabulary: how devices, certificates and audit entries look on the
// wire, and the checks every piece of client input goes through before anything is
// written. Private to app/admin/api.cpp (split out to keep each file about one thing).
#pragma once

#include "app/http/types.hpp"
#include "ca/records.hpp"

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace portcullis::app::admin {

using nlohmann::json;

// A request we refuse, with the status and the one-line reason the client sees.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& reason) : std::runtime_error(reason), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// --- output ------------------------------------------------------------------------
std::string iso8601(ca::UnixTime t);                               // "2024-05-01T12:00:00Z"
// "valid" | "revoked" | "expired" (not-yet-valid counts as valid: it is not revoked and
// will be usable; the ledger's status filter uses the same three words).
const char* certificate_status(const ca::CertificateRecord& record, ca::UnixTime now);
json device_json(const ca::Device& device);
// C: the record plus "device", the device's name (people and the CLI speak of names;
// "device_id" stays for scripts).
json certificate_json(const ca::CertificateRecord& record, const std::string& device_name, ca::UnixTime now,
                      bool with_pem);
json audit_json(const ca::AuditEntry& entry);

HttpResponse json_response(int status, const json& body);
HttpResponse error_response(int status, const std::string& reason);

// --- input -------------------------------------------------------------------------
// Unix seconds ("1735689600"), an ISO-8601 date ("2025-01-01", midnight UTC) or a UTC
// date-time ("2025-01-01T00:00:00Z"). nullopt for anything else.
std::optional<ca::UnixTime> parse_time(std::string_view text);

// The request body as a JSON object. An empty body is {} when `body_optional`. 400 for
// malformed JSON, a non-object or a field not in `allowed`; 415 for a non-JSON type.
json parse_body(const HttpRequest& request, std::initializer_list<std::string_view> allowed, bool body_optional);
std::optional<std::string> string_field(const json& body, const char* name);   // 400 if not a string
std::optional<bool> bool_field(const json& body, const char* name);            // 400 if not a boolean
// An optional array of at most `max_items` strings of 1..`max_chars` characters; 400 otherwise.
std::vector<std::string> string_list_field(const json& body, const char* name, std::size_t max_items,
                                           std::size_t max_chars);

// 1..max_chars code points, no control characters (C0, DEL, C1), no leading or trailing
// white space. min_chars 0 allows "". 400 naming `what` otherwise.
std::string checked_text(const std::string& value, const char* what, std::size_t min_chars, std::size_t max_chars);
// A device name: checked_text(1..128) and not all digits, so that a number in a path or a
// "device" field always means an id.
std::string checked_device_name(const std::string& value);
bool all_digits(std::string_view s);

// 400 for a query parameter not in `allowed` (a typo would otherwise silently widen a list).
void check_query(const std::map<std::string, std::string>& query, std::initializer_list<std::string_view> allowed);
// The parameter as an integer in [min, max]; `fallback` when absent or empty.
std::size_t count_param(const std::map<std::string, std::string>& query, const char* name, std::size_t fallback,
                        std::size_t min, std::size_t max);
const std::string* query_param(const std::map<std::string, std::string>& query, const char* name);

// The optional "reason" field (RFC 5280 §5.3.1 names or codes); unspecified when absent.
ca::RevocationReason reason_field(const json& body);
// Hex with optional ':' separators, 1..20 octets (RFC 5280 §4.1.2.2). 400 otherwise.
std::string checked_serial(const std::string& text);

}  // namespace portcullis::app::admin
