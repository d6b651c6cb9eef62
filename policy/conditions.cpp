#include "policy/conditions.hpp"

#include "policy/glob.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>

namespace portcullis::policy {
namespace {

std::string join(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + values[i];
  return out + "]";
}

bool contains(const std::vector<std::string>& haystack, const std::string& needle) {
  return std::find(haystack.begin(), haystack.end(), needle) != haystack.end();
}

bool intersects(const std::vector<std::string>& wanted, const std::vector<std::string>& have) {
  return std::any_of(wanted.begin(), wanted.end(), [&](const std::string& w) { return contains(have, w); });
}

// Which string of the context a list condition looks at.
enum class Field { device_groups, profile, nas, nas_groups, ssid, subject, sans };

class ListCondition final : public Condition {
 public:
  ListCondition(const char* key, Field field, std::vector<std::string> values, bool glob)
      : key_(key), field_(field), values_(std::move(values)), glob_(glob) {}

  bool matches(const Facts& f) const override {
    const AccessContext& c = f.context();
    switch (field_) {
      case Field::device_groups: return intersects(values_, c.device_groups);
      case Field::nas_groups: return intersects(values_, c.nas_groups);
      case Field::profile: return contains(values_, c.profile);
      case Field::nas: return contains(values_, c.nas_name);
      case Field::ssid: {
        const auto& ssid = f.ssid();
        return ssid && contains(values_, *ssid);
      }
      case Field::subject: return any_glob(c.subject);
      case Field::sans:
        return std::any_of(c.sans.begin(), c.sans.end(), [this](const std::string& s) { return any_glob(s); });
    }
    return false;
  }

  std::string describe() const override {
    return std::string(key_) + (glob_ ? " like " : " in ") + join(values_);
  }

 private:
  bool any_glob(const std::string& text) const {
    return std::any_of(values_.begin(), values_.end(), [&](const std::string& p) { return glob_match(p, text); });
  }

  const char* key_;
  Field field_;
  std::vector<std::string> values_;
  bool glob_;
};

class NasPortTypeCondition final : public Condition {
 public:
  NasPortTypeCondition(std::vector<std::uint32_t> types, std::vector<std::string> labels)
      : types_(std::move(types)), labels_(std::move(labels)) {}
  bool matches(const Facts& f) const override {
    const auto& type = f.context().nas_port_type;
    return type && std::find(types_.begin(), types_.end(), *type) != types_.end();
  }
  std::string describe() const override { return "nas_port_type in " + join(labels_); }

 private:
  std::vector<std::uint32_t> types_;
  std::vector<std::string> labels_;
};

std::string clock_text(int minute) {
  const int h = minute / 60, m = minute % 60;
  return std::string{static_cast<char>('0' + h / 10), static_cast<char>('0' + h % 10), ':',
                     static_cast<char>('0' + m / 10), static_cast<char>('0' + m % 10)};
}

class TimeCondition final : public Condition {
 public:
  TimeCondition(int start, int end) : start_(start), end_(end) {}
  bool matches(const Facts& f) const override {
    const int m = f.local_minute();
    if (start_ < end_) return m >= start_ && m < end_;
    return m >= start_ || m < end_;  // wraps midnight
  }
  std::string describe() const override { return "time " + clock_text(start_) + "-" + clock_text(end_); }

 private:
  int start_, end_;
};

constexpr std::array<const char*, 7> kDayNames = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

class DaysCondition final : public Condition {
 public:
  explicit DaysCondition(unsigned bits) : bits_(bits) {}
  bool matches(const Facts& f) const override { return (bits_ >> f.weekday()) & 1U; }
  std::string describe() const override {
    std::vector<std::string> names;
    for (int d = 1; d <= 7; ++d)  // Monday first, as people write weeks
      if ((bits_ >> (d % 7)) & 1U) names.emplace_back(kDayNames[d % 7]);
    return "days in " + join(names);
  }

 private:
  unsigned bits_;
};

class ExpiresWithinCondition final : public Condition {
 public:
  explicit ExpiresWithinCondition(std::uint32_t days) : days_(days) {}
  bool matches(const Facts& f) const override {
    const AccessContext& c = f.context();
    return c.cert_not_after - c.now < static_cast<ca::UnixTime>(days_) * 86400;
  }
  std::string describe() const override { return "expires_within_days " + std::to_string(days_); }

 private:
  std::uint32_t days_;
};

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

}  // namespace

void Facts::compute_time() const {
  const std::time_t t = static_cast<std::time_t>(context_.now);
  std::tm tm{};
  localtime_r(&t, &tm);  // TZ of the process: the site's local time, as rule authors think
  minute_ = tm.tm_hour * 60 + tm.tm_min;
  weekday_ = tm.tm_wday;
}

int Facts::local_minute() const {
  if (minute_ < 0) compute_time();
  return minute_;
}

int Facts::weekday() const {
  if (weekday_ < 0) compute_time();
  return weekday_;
}

const std::optional<std::string>& Facts::ssid() const {
  if (!ssid_done_) {
    ssid_ = ssid_from_called_station(context_.called_station_id);
    ssid_done_ = true;
  }
  return ssid_;
}

ConditionPtr device_group_condition(std::vector<std::string> v) {
  return std::make_unique<ListCondition>("device_groups", Field::device_groups, std::move(v), false);
}
ConditionPtr profile_condition(std::vector<std::string> v) {
  return std::make_unique<ListCondition>("profile", Field::profile, std::move(v), false);
}
ConditionPtr nas_condition(std::vector<std::string> v) {
  return std::make_unique<ListCondition>("nas", Field::nas, std::move(v), false);
}
ConditionPtr nas_group_condition(std::vector<std::string> v) {
  return std::make_unique<ListCondition>("nas_group", Field::nas_groups, std::move(v), false);
}
ConditionPtr ssid_condition(std::vector<std::string> v) {
  return std::make_unique<ListCondition>("ssid", Field::ssid, std::move(v), false);
}
ConditionPtr subject_condition(std::vector<std::string> v) {
  return std::make_unique<ListCondition>("subject", Field::subject, std::move(v), true);
}
ConditionPtr san_condition(std::vector<std::string> v) {
  return std::make_unique<ListCondition>("san", Field::sans, std::move(v), true);
}
ConditionPtr nas_port_type_condition(std::vector<std::uint32_t> types, std::vector<std::string> labels) {
  return std::make_unique<NasPortTypeCondition>(std::move(types), std::move(labels));
}
ConditionPtr time_condition(int start_minute, int end_minute) {
  return std::make_unique<TimeCondition>(start_minute, end_minute);
}
ConditionPtr days_condition(unsigned weekday_bits) { return std::make_unique<DaysCondition>(weekday_bits); }
ConditionPtr expires_within_condition(std::uint32_t days) { return std::make_unique<ExpiresWithinCondition>(days); }

std::optional<std::string> ssid_from_called_station(std::string_view value) {
  std::size_t digits = 0, i = 0;
  for (; i < value.size() && digits < 12; ++i) {
    if (is_hex(value[i])) ++digits;
    else if (value[i] != '-' && value[i] != ':' && value[i] != '.') return std::nullopt;
  }
  if (digits != 12 || i >= value.size() || value[i] != ':') return std::nullopt;
  return std::string(value.substr(i + 1));
}

std::optional<int> parse_clock_minute(std::string_view t, bool allow_24) {
  if (t.size() != 5 || t[2] != ':') return std::nullopt;
  for (std::size_t i : {0, 1, 3, 4})
    if (!std::isdigit(static_cast<unsigned char>(t[i]))) return std::nullopt;
  const int h = (t[0] - '0') * 10 + (t[1] - '0');
  const int m = (t[3] - '0') * 10 + (t[4] - '0');
  if (m > 59) return std::nullopt;
  if (h == 24 && m == 0 && allow_24) return 24 * 60;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}

std::optional<int> parse_weekday(std::string_view text) {
  static constexpr std::array<const char*, 7> kFull = {"sunday",   "monday", "tuesday", "wednesday",
                                                       "thursday", "friday", "saturday"};
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int d = 0; d < 7; ++d)
    if (lower == kDayNames[d] || lower == kFull[d]) return d;
  return std::nullopt;
}

}  // namespace portcullis::policy
