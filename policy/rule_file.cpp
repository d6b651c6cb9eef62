#include "policy/rule_file.hpp"

#include "policy/conditions.hpp"
#include "policy/rule.hpp"

#include "ca/log_text.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace portcullis::policy {
namespace {

// Attributes the server itself owns in an Access-Accept; a rule that set them would break
// the conversation (RFC 2865 §5.24 State, §5.25 Class = our accounting token, §5.33
// Proxy-State, RFC 3579 §3.1/§3.2 EAP-Message and Message-Authenticator) or bypass the
// notAfter cap (§5.27 Session-Timeout: use `session_timeout`).
const std::map<std::uint8_t, const char*> kServerOwned = {
    {24, "State"}, {25, "Class"}, {27, "Session-Timeout (use session_timeout)"}, {33, "Proxy-State"},
    {79, "EAP-Message"}, {80, "Message-Authenticator"}};

const std::set<std::string> kRuleKeys = {
    "name",   "device_groups", "profile",          "subject",      "san",    "nas",
    "nas_group", "ssid",       "nas_port_type",    "time",         "days",   "expires_within_days",
    "action", "reason",        "vlan",             "session_timeout", "reply", "on_disable",
    "coa_vlan", "coa_reply"};

// Where we are, for messages: "policy.toml:12: rule 'staff': ".
class Reader {
 public:
  Reader(const std::string& origin, const AttributeResolver& resolver) : origin_(origin), resolver_(resolver) {}

  [[noreturn]] void fail(const toml::node& node, const std::string& what) const { fail_at(line_of(node), what); }
  [[noreturn]] void fail_at(std::size_t line, const std::string& what) const {
    std::ostringstream msg;
    msg << origin_ << ":" << line << ": " << (rule_.empty() ? "" : "rule '" + rule_ + "': ") << what;
    throw PolicyError(msg.str());
  }
  static std::size_t line_of(const toml::node& node) { return node.source().begin.line; }

  void enter(std::string rule) { rule_ = std::move(rule); }

  // A string or a non-empty array of strings ("a list means any of").
  std::vector<std::string> strings(const toml::node& node, const char* key) const {
    std::vector<std::string> out;
    if (auto s = node.value<std::string>()) {
      out.push_back(*s);
    } else if (const toml::array* arr = node.as_array()) {
      for (const auto& el : *arr) {
        auto v = el.value<std::string>();
        if (!v) fail(el, std::string(key) + " must be a string or an array of strings");
        out.push_back(*v);
      }
    } else {
      fail(node, std::string(key) + " must be a string or an array of strings");
    }
    if (out.empty()) fail(node, std::string(key) + " must not be empty (it would never match)");
    for (const auto& v : out)
      if (v.empty()) fail(node, std::string(key) + " has an empty entry");
    return out;
  }

  std::int64_t integer(const toml::node& node, const char* key, std::int64_t min, std::int64_t max) const {
    if (!node.is_integer()) fail(node, std::string(key) + " must be an integer");
    const std::int64_t v = *node.value<std::int64_t>();
    if (v < min || v > max)
      fail(node, std::string(key) + " must be " + std::to_string(min) + ".." + std::to_string(max));
    return v;
  }

  std::string string(const toml::node& node, const char* key) const {
    auto v = node.value<std::string>();
    if (!v || node.is_integer()) fail(node, std::string(key) + " must be a string");
    return *v;
  }

  ReplyAttribute resolve(const toml::node& at, std::string_view name, std::string_view value, std::uint8_t tag) const {
    ReplyAttribute a;
    try {
      a = resolver_(name, value, tag);
    } catch (const std::exception& e) {
      fail(at, e.what());
    }
    if (auto owned = kServerOwned.find(a.type); owned != kServerOwned.end())
      fail(at, std::string(name) + ": the server sets " + owned->second + " itself");
    a.name = tag != 0 ? std::string(name) + ":" + std::to_string(tag) : std::string(name);
    a.value_text = std::string(value);
    return a;
  }

  // RFC 3580 §3.31: the three tunnel attributes that put the session on a VLAN, with the
  // same tag (1) so the NAS reads them as one tunnel (RFC 2868 §3.1).
  void add_vlan(const toml::node& node, const char* key, std::vector<ReplyAttribute>& out) const {
    std::string id;
    if (node.is_integer()) id = std::to_string(integer(node, key, 1, 4094));  // IEEE 802.1Q VID
    else id = string(node, key);                                               // a VLAN name, for NASes that take one
    if (id.empty()) fail(node, std::string(key) + " must not be empty");
    out.push_back(resolve(node, "Tunnel-Type", "VLAN", 1));
    out.push_back(resolve(node, "Tunnel-Medium-Type", "IEEE-802", 1));
    out.push_back(resolve(node, "Tunnel-Private-Group-Id", id, 1));
  }

  // { "Filter-Id" = "staff", "Cisco-AVPair" = ["a=b", "c=d"] } in the order written.
  void add_reply(const toml::node& node, const char* key, std::vector<ReplyAttribute>& out) const {
    const toml::table* table = node.as_table();
    if (table == nullptr) fail(node, std::string(key) + " must be a table of attribute = value");
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (const auto& [k, v] : *table) entries.emplace_back(&k, &v);
    // toml++ keeps keys sorted; replies go out as written, which some NASes care about.
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      const auto& x = a.first->source().begin;
      const auto& y = b.first->source().begin;
      return x.line != y.line ? x.line < y.line : x.column < y.column;
    });
    for (const auto& [k, v] : entries) {
      const std::string name(k->str());
      auto one = [&](const toml::node& value) {
        std::string text;
        if (value.is_integer()) text = std::to_string(*value.value<std::int64_t>());
        else if (auto s = value.value<std::string>()) text = *s;
        else fail(value, std::string(key) + "." + name + " must be a string or an integer (or an array of them)");
        out.push_back(resolve(value, name, text, 0));
      };
      if (const toml::array* arr = v->as_array()) {
        if (arr->empty()) fail(*v, std::string(key) + "." + name + " must not be an empty array");
        for (const auto& el : *arr) one(el);
      } else {
        one(*v);
      }
    }
  }

  std::uint32_t port_type(const toml::node& node) const {
    if (node.is_integer()) return static_cast<std::uint32_t>(integer(node, "nas_port_type", 0, 0xFFFFFFFF));
    const std::string name = string(node, "nas_port_type");
    ReplyAttribute a;
    try {
      a = resolver_("NAS-Port-Type", name, 0);
    } catch (const std::exception& e) {
      fail(node, "nas_port_type: " + std::string(e.what()));
    }
    if (a.value.size() != 4) fail(node, "nas_port_type: '" + name + "' is not a NAS-Port-Type value");
    return (std::uint32_t{a.value[0]} << 24) | (std::uint32_t{a.value[1]} << 16) | (std::uint32_t{a.value[2]} << 8) |
           a.value[3];
  }

 private:
  const std::string& origin_;
  const AttributeResolver& resolver_;
  std::string rule_;
};

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  // It appears unquoted in log lines (rule=NAME): no spaces, quotes or '='.
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

// The rule's name: present, well-formed, not reserved, not used by an earlier rule.
void read_rule_name(Reader& r, const toml::table& t, Rule& rule, std::map<std::string, std::size_t>& seen) {
  const toml::node* name = t.get("name");
  if (name == nullptr) r.fail_at(rule.line, "[[rule]] needs a name");
  rule.name = r.string(*name, "name");
  if (!valid_name(rule.name))
    r.fail(*name, "rule name '" + rule.name + "' must be 1-64 characters of A-Z a-z 0-9 - _ .");
  if (rule.name == "default") r.fail(*name, "the rule name 'default' is reserved (decisions no rule matched)");
  if (auto it = seen.find(rule.name); it != seen.end())
    r.fail(*name, "duplicate rule name '" + rule.name + "' (first defined at line " + std::to_string(it->second) + ")");
  seen.emplace(rule.name, rule.line);
}

// nas_port_type: one RFC 2865 §5.41 value or a non-empty array of them, by name or number.
ConditionPtr read_nas_port_type(Reader& r, const toml::node& n) {
  std::vector<std::uint32_t> types;
  std::vector<std::string> labels;
  auto one = [&](const toml::node& el) {
    types.push_back(r.port_type(el));
    labels.push_back(el.is_integer() ? std::to_string(types.back()) : *el.value<std::string>());
  };
  if (const toml::array* arr = n.as_array()) {
    if (arr->empty()) r.fail(n, "nas_port_type must not be empty (it would never match)");
    for (const auto& el : *arr) one(el);
  } else {
    one(n);
  }
  return nas_port_type_condition(std::move(types), std::move(labels));
}

ConditionPtr read_time_window(Reader& r, const toml::node& n) {
  const std::string text = r.string(n, "time");
  const auto dash = text.find('-');
  const auto start = dash == std::string::npos ? std::nullopt : parse_clock_minute(text.substr(0, dash));
  const auto end = dash == std::string::npos ? std::nullopt : parse_clock_minute(text.substr(dash + 1), true);
  if (!start || !end) r.fail(n, "time must be \"HH:MM-HH:MM\" (local time; may wrap midnight)");
  // "00:00-24:00" is the whole day; "10:00-10:00" would mean nothing (or everything).
  if (*start == *end) r.fail(n, "time window \"" + text + "\" is ambiguous: start and end are the same");
  return time_condition(*start, *end);
}

ConditionPtr read_days(Reader& r, const toml::node& n) {
  unsigned bits = 0;
  for (const auto& d : r.strings(n, "days")) {
    const auto day = parse_weekday(d);
    if (!day) r.fail(n, "days: unknown day '" + d + "' (mon, tue, wed, thu, fri, sat, sun)");
    bits |= 1U << *day;
  }
  return days_condition(bits);
}

std::vector<ConditionPtr> read_conditions(Reader& r, const toml::table& t) {
  std::vector<ConditionPtr> conds;
  auto get = [&](const char* key) { return t.get(key); };
  if (auto* n = get("device_groups")) conds.push_back(device_group_condition(r.strings(*n, "device_groups")));
  if (auto* n = get("profile")) conds.push_back(profile_condition(r.strings(*n, "profile")));
  if (auto* n = get("subject")) conds.push_back(subject_condition(r.strings(*n, "subject")));
  if (auto* n = get("san")) conds.push_back(san_condition(r.strings(*n, "san")));
  if (auto* n = get("nas")) conds.push_back(nas_condition(r.strings(*n, "nas")));
  if (auto* n = get("nas_group")) conds.push_back(nas_group_condition(r.strings(*n, "nas_group")));
  if (auto* n = get("ssid")) conds.push_back(ssid_condition(r.strings(*n, "ssid")));
  if (auto* n = get("nas_port_type")) conds.push_back(read_nas_port_type(r, *n));
  if (auto* n = get("time")) conds.push_back(read_time_window(r, *n));
  if (auto* n = get("days")) conds.push_back(read_days(r, *n));
  if (auto* n = get("expires_within_days"))
    conds.push_back(expires_within_condition(static_cast<std::uint32_t>(r.integer(*n, "expires_within_days", 1, 36500))));
  return conds;
}

// A reject rule: no reply attributes, and a reason for the logs and the audit.
void read_reject(Reader& r, const toml::table& t, const std::string& rule_name, Decision& d) {
  for (const char* key : {"vlan", "session_timeout", "reply", "on_disable", "coa_vlan", "coa_reply"})
    if (auto* n = t.get(key)) r.fail(*n, std::string(key) + " has no meaning in a reject rule");
  d.reason = "rule " + rule_name;
  if (auto* n = t.get("reason")) {
    d.reason = r.string(*n, "reason");
    // It goes into log lines and the audit: printable text only, so it cannot forge lines.
    if (d.reason.empty() || ca::has_control_characters(d.reason))
      r.fail(*n, "reason must be non-empty printable text");
  }
}

// What a CoA (RFC 5176 §3.2) sends when the device is disabled: only with on_disable = "coa",
// which in turn needs something to send.
void read_coa_reply(Reader& r, const toml::table& t, Decision& d) {
  const toml::node* coa_vlan = t.get("coa_vlan");
  const toml::node* coa_reply = t.get("coa_reply");
  if (d.on_disable != SessionAction::coa) {
    if (coa_vlan || coa_reply) r.fail(coa_vlan ? *coa_vlan : *coa_reply, "coa_vlan/coa_reply need on_disable = \"coa\"");
    return;
  }
  if (!coa_vlan && !coa_reply) r.fail(*t.get("on_disable"), "on_disable = \"coa\" needs coa_vlan or coa_reply");
  if (coa_vlan) r.add_vlan(*coa_vlan, "coa_vlan", d.coa_reply);
  if (coa_reply) r.add_reply(*coa_reply, "coa_reply", d.coa_reply);
}

// An accept rule: its reply attributes and what ends its sessions when the device is disabled.
void read_accept(Reader& r, const toml::table& t, Decision& d) {
  if (auto* n = t.get("reason")) r.fail(*n, "reason belongs to reject rules (action = \"reject\")");
  if (auto* n = t.get("vlan")) r.add_vlan(*n, "vlan", d.reply);
  if (auto* n = t.get("reply")) r.add_reply(*n, "reply", d.reply);
  if (auto* n = t.get("session_timeout"))
    d.session_timeout = static_cast<std::uint32_t>(r.integer(*n, "session_timeout", 1, 0x7FFFFFFF));
  if (auto* n = t.get("on_disable")) {
    const std::string v = r.string(*n, "on_disable");
    if (v != "disconnect" && v != "coa") r.fail(*n, "on_disable must be \"disconnect\" or \"coa\"");
    d.on_disable = v == "coa" ? SessionAction::coa : SessionAction::disconnect;
  }
  read_coa_reply(r, t, d);
}

std::unique_ptr<Rule> parse_rule(Reader& r, const toml::table& t, std::map<std::string, std::size_t>& seen) {
  auto rule = std::make_unique<Rule>();
  rule->line = Reader::line_of(t);
  r.enter("");
  read_rule_name(r, t, *rule, seen);
  r.enter(rule->name);
  for (const auto& [k, v] : t)
    if (!kRuleKeys.count(std::string(k.str()))) r.fail(v, "unknown key '" + std::string(k.str()) + "'");
  rule->conditions = read_conditions(r, t);

  Decision& d = rule->decision;
  d.rule = rule->name;
  if (auto* n = t.get("action")) {
    const std::string action = r.string(*n, "action");
    if (action != "accept" && action != "reject") r.fail(*n, "action must be \"accept\" or \"reject\"");
    d.accept = action == "accept";
  }
  if (d.accept)
    read_accept(r, t, d);
  else
    read_reject(r, t, rule->name, d);
  return rule;
}

}  // namespace

std::shared_ptr<RuleSet> parse_rule_file(std::string_view text, const std::string& origin,
                                         const AttributeResolver& resolver) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << origin << ":" << e.source().begin.line << ": " << e.description();
    throw PolicyError(msg.str());
  }
  Reader r(origin, resolver);
  auto set = std::make_shared<RuleSet>();
  set->origin = origin;
  set->fallback.rule = "default";
  for (const auto& [k, v] : root) {
    const std::string key(k.str());
    if (key == "rule") {
      if (!v.is_array_of_tables()) r.fail(v, "rule must be written as [[rule]] tables");
    } else if (key == "default") {
      const std::string action = r.string(v, "default");
      if (action != "accept" && action != "reject") r.fail(v, "default must be \"accept\" or \"reject\"");
      set->fallback.accept = action == "accept";
      if (!set->fallback.accept) set->fallback.reason = "no rule matched";
    } else {
      r.fail(v, "unknown key '" + key + "' (expected [[rule]] tables and default)");
    }
  }
  std::map<std::string, std::size_t> seen;
  if (const toml::array* rules = root.get_as<toml::array>("rule")) {
    for (const auto& el : *rules) set->rules.push_back(parse_rule(r, *el.as_table(), seen));
  }
  return set;
}

}  // namespace portcullis::policy
