// Rule conditions, dnsdist style: each a tiny object answering matches(context). A rule
// holds several (all must hold); a condition given a list matches when any entry does.
// Built by rule_file.cpp, which has already validated the values.
#pragma once

#include "policy/access_context.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::policy {

// What the conditions of one decision derive from its context, computed once on first use
// and shared by every rule: the local time (localtime_r takes glibc's time-zone lock) and
// the SSID (parsed from Called-Station-Id).
class Facts {
 public:
  explicit Facts(const AccessContext& context) : context_(context) {}
  const AccessContext& context() const { return context_; }
  int local_minute() const;  // since local midnight
  int weekday() const;       // 0 = Sunday, local
  const std::optional<std::string>& ssid() const;

 private:
  void compute_time() const;
  const AccessContext& context_;
  mutable int minute_ = -1, weekday_ = -1;
  mutable bool ssid_done_ = false;
  mutable std::optional<std::string> ssid_;
};

class Condition {
 public:
  virtual ~Condition() = default;
  virtual bool matches(const Facts& facts) const = 0;
  // `key = value` as the admin API and `policy test` show it, e.g. `nas_group in [campus]`.
  virtual std::string describe() const = 0;
};
using ConditionPtr = std::unique_ptr<const Condition>;

// String-list conditions: the context field equals (case-sensitively) any listed value.
ConditionPtr device_group_condition(std::vector<std::string> groups);  // any ledger group/tag
ConditionPtr profile_condition(std::vector<std::string> profiles);
ConditionPtr nas_condition(std::vector<std::string> names);
ConditionPtr nas_group_condition(std::vector<std::string> groups);
ConditionPtr ssid_condition(std::vector<std::string> ssids);
// Glob conditions (policy/glob.hpp) on the RFC 2253 subject / on any SAN ("DNS:x", ...).
ConditionPtr subject_condition(std::vector<std::string> patterns);
ConditionPtr san_condition(std::vector<std::string> patterns);
// RFC 2865 §5.41 NAS-Port-Type; `labels` are the values as written (names or numbers).
ConditionPtr nas_port_type_condition(std::vector<std::uint32_t> types, std::vector<std::string> labels);

// Local time of day in minutes since midnight, [start, end). start > end wraps midnight
// ("22:00-06:00"); start == end is refused by the loader (it would mean nothing or all).
ConditionPtr time_condition(int start_minute, int end_minute);
// Days of the week as a bit set, bit 0 = Sunday (struct tm's tm_wday). The day is the
// local day at the moment of the request, also inside a window that wraps midnight.
ConditionPtr days_condition(unsigned weekday_bits);
// The certificate expires in fewer than `days` days (notAfter - now < days * 86400).
ConditionPtr expires_within_condition(std::uint32_t days);

// RFC 3580 §3.20: Called-Station-Id is the AP's MAC address and the SSID, "MAC:SSID".
// The MAC takes 12 hex digits (optionally separated by '-', ':' or '.'), so the SSID is
// what follows the first ':' after them (SSIDs may themselves hold ':'). nullopt when the
// value carries no SSID.
std::optional<std::string> ssid_from_called_station(std::string_view called_station_id);

// "08:00" -> 480; nullopt unless HH:MM with HH 00..23 (or 24:00 as the end of day) and MM 00..59.
std::optional<int> parse_clock_minute(std::string_view text, bool allow_24 = false);
// "mon".."sun" (also full English names), case-insensitive -> 0 (sun)..6 (sat).
std::optional<int> parse_weekday(std::string_view text);

}  // namespace portcullis::policy
