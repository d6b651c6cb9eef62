// Admin API JSON bodies (app/admin/json): parse_body and the field readers, called the way
// each handler in app/admin/api*.cpp calls them for its body. Input: one octet choosing the
// handler and the Content-Type, then the body. ApiError (a 4xx answer) is the only
// exception the handlers expect; anything else would be a 500.
#include "app/admin/json.hpp"

#include <string_view>

using namespace portcullis::app;
using namespace portcullis::app::admin;

namespace {

void read_device(const json& body) {
  if (auto name = string_field(body, "name")) (void)checked_device_name(*name);
  (void)checked_text(string_field(body, "display_name").value_or(""), "display_name", 0, 256);
  (void)checked_text(string_field(body, "owner").value_or(""), "owner", 0, 256);
  (void)string_list_field(body, "groups", 64, 64);
}

void read_issue(const json& body) {
  (void)string_field(body, "csr");
  if (auto device = string_field(body, "device")) (void)checked_device_name(*device);
  (void)string_field(body, "profile");
  (void)bool_field(body, "create_device");
  (void)string_field(body, "cn");
  (void)string_list_field(body, "sans", 16, 256);
}

void read_challenge(const json& body) {
  if (auto device = string_field(body, "device")) (void)checked_device_name(*device);
  (void)string_field(body, "cn");
  (void)string_list_field(body, "sans", 16, 256);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  HttpRequest request;
  request.method = "POST";
  static const char* const types[] = {"application/json", "application/json; charset=utf-8", "text/plain", nullptr};
  if (const char* type = types[(data[0] >> 3) & 3]) request.headers["content-type"] = type;
  request.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    switch (data[0] & 7) {
      case 0: read_device(parse_body(request, {"name", "display_name", "owner", "groups"}, false)); break;
      case 1: (void)reason_field(parse_body(request, {"reason"}, true)); break;
      case 2: {
        const json body = parse_body(request, {"devices", "reason"}, false);
        (void)reason_field(body);
        const auto it = body.find("devices");
        if (it == body.end() || !it->is_array()) break;
        for (const json& ref : *it) {
          if (ref.is_number_integer()) (void)std::to_string(ref.get<std::int64_t>());
          else if (ref.is_string()) (void)ref.get<std::string>();
        }
        break;
      }
      case 3: read_issue(parse_body(request, {"csr", "device", "profile", "create_device", "cn", "sans"}, false)); break;
      case 4: read_challenge(parse_body(request, {"device", "profile", "cn", "sans", "ttl_seconds"}, false)); break;
      case 5: (void)parse_body(request, {}, true); break;
      case 6: (void)parse_time(request.body); break;
      case 7: (void)checked_serial(request.body); break;
    }
  } catch (const ApiError& e) {
    if (e.status() < 400 || e.status() > 499) __builtin_trap();
    // The reason goes back to the client as a JSON string: it must serialise.
    (void)error_response(e.status(), e.what());
  }
  return 0;
}
