// The rule file and the engine: first match, the no-rules default, actions and reply
// attributes (VLAN shorthand bytes, vendor attributes checked against libfreeradius),
// Session-Timeout capping, refused files (with their line, old rules kept), counters, and
// reloads while other threads decide.
#include "../radius/freeradius_oracle.hpp"
#include "policy_fixture.hpp"
#include "radius/packet.hpp"

#include <atomic>
#include <thread>
#include <vector>

namespace portcullis::policy::testing {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Engine_ = PolicyTest;

const char* kPolicy = R"(
[[rule]]
name = "after-hours"
time = "20:00-06:00"
action = "reject"
reason = "outside office hours"

[[rule]]
name = "staff-wifi"
device_groups = ["staff"]
ssid = ["corp-wifi"]
vlan = 20
session_timeout = 3600
reply = { "Filter-Id" = "staff", "Aruba-User-Role" = "employee" }

[[rule]]
name = "any-staff"
device_groups = ["staff"]
vlan = 30
)";

// The message of the PolicyError `text` raises.
std::string refusal(const std::string& text) {
  Engine e(resolver());
  try {
    e.load_text(text, "p.toml");
  } catch (const PolicyError& err) {
    return err.what();
  }
  ADD_FAILURE() << "accepted:\n" << text;
  return {};
}

TEST_F(Engine_, NoRulesAcceptsWithNoAttributes) {
  Engine e(resolver());
  Decision d = e.decide(laptop());
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, "default");
  EXPECT_TRUE(d.reply.empty());
  EXPECT_FALSE(d.session_timeout);
  EXPECT_EQ(e.rule_count(), 0u);
  EXPECT_EQ(e.origin(), "");
  // An empty file is the same.
  EXPECT_EQ(e.load_text("# nothing yet\n", "empty.toml"), 0u);
  EXPECT_TRUE(e.decide(laptop()).accept);
  EXPECT_EQ(e.default_matches(), 2u);
}

TEST_F(Engine_, FirstMatchingRuleDecides) {
  Engine e(resolver());
  ASSERT_EQ(e.load_text(kPolicy, "p.toml"), 3u);
  EXPECT_EQ(e.decide(laptop()).rule, "staff-wifi");
  AccessContext wired = laptop();
  wired.called_station_id = "00-11-22-33-44-55";
  EXPECT_EQ(e.decide(wired).rule, "any-staff");
  AccessContext night = laptop();
  night.now += 12 * 3600;  // 22:30: the reject rule comes first
  const Decision d = e.decide(night);
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.rule, "after-hours");
  EXPECT_EQ(d.reason, "outside office hours");
  EXPECT_TRUE(d.reply.empty());
  AccessContext guest = laptop();
  guest.device_groups = {"guests"};
  EXPECT_EQ(e.decide(guest).rule, "default");
  EXPECT_TRUE(e.decide(guest).accept);

  const auto stats = e.stats();
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].name, "after-hours");
  EXPECT_EQ(stats[0].line, 2u);
  EXPECT_EQ(stats[0].matches, 1u);
  EXPECT_EQ(stats[1].matches, 1u);
  EXPECT_EQ(stats[2].matches, 1u);
  EXPECT_EQ(e.default_matches(), 2u);
  EXPECT_EQ(stats[1].summary,
            "device_groups in [staff] and ssid in [corp-wifi] -> accept Tunnel-Type:1=VLAN "
            "Tunnel-Medium-Type:1=IEEE-802 Tunnel-Private-Group-Id:1=20 Filter-Id=staff Aruba-User-Role=employee "
            "session_timeout=3600");
  EXPECT_EQ(stats[0].summary, "time 20:00-06:00 -> reject: outside office hours");
}

TEST_F(Engine_, DefaultRejectWhenConfigured) {
  Engine e(resolver());
  e.load_text("default = \"reject\"\n[[rule]]\nname = \"staff\"\ndevice_groups = [\"staff\"]\n", "p.toml");
  EXPECT_TRUE(e.decide(laptop()).accept);
  AccessContext guest = laptop();
  guest.device_groups.clear();
  const Decision d = e.decide(guest);
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.rule, "default");
  EXPECT_EQ(d.reason, "no rule matched");
}

// RFC 3580 §3.31 / RFC 2868: Tunnel-Type (64) = VLAN (13), Tunnel-Medium-Type (65) =
// IEEE-802 (6), Tunnel-Private-Group-Id (81) = "20", all tagged 1: the tag is the first
// octet, in the top byte of the integers and before the string.
TEST_F(Engine_, VlanShorthandIsTheThreeTaggedTunnelAttributes) {
  Engine e(resolver());
  e.load_text("[[rule]]\nname = \"v\"\nvlan = 20\n", "p.toml");
  const Decision d = e.decide(laptop());
  ASSERT_EQ(d.reply.size(), 3u);
  EXPECT_EQ(d.reply[0].type, 64);
  EXPECT_EQ(d.reply[0].value, (Bytes{0x01, 0x00, 0x00, 0x0D}));
  EXPECT_EQ(d.reply[1].type, 65);
  EXPECT_EQ(d.reply[1].value, (Bytes{0x01, 0x00, 0x00, 0x06}));
  EXPECT_EQ(d.reply[2].type, 81);
  EXPECT_EQ(d.reply[2].value, (Bytes{0x01, '2', '0'}));
  EXPECT_EQ(d.reply[2].name, "Tunnel-Private-Group-Id:1");
}

// Vendor attributes as libfreeradius itself encodes them in a packet (the oracle), byte
// for byte: Vendor-Specific (26), vendor id, vendor type, length, value.
TEST_F(Engine_, VendorAttributesMatchTheLibfreeradiusEncoding) {
  Engine e(resolver());
  e.load_text(R"([[rule]]
name = "v"
reply = { "Aruba-User-Role" = "employee", "Cisco-AVPair" = ["shell:priv-lvl=15", "url-redirect-acl=x"], "Filter-Id" = "staff", "Tunnel-Private-Group-Id:2" = "guest" }
)",
              "p.toml");
  const Decision d = e.decide(laptop());
  ASSERT_EQ(d.reply.size(), 5u);
  std::vector<radius::oracle::Item> items = {{"Aruba-User-Role", "employee", {}, 0},
                                             {"Cisco-AVPair", "shell:priv-lvl=15", {}, 0},
                                             {"Cisco-AVPair", "url-redirect-acl=x", {}, 0},
                                             {"Filter-Id", "staff", {}, 0},
                                             {"Tunnel-Private-Group-Id", "guest", {}, 2}};
  const Bytes wire = radius::oracle::encode(radius::Code::AccessAccept, 1, radius::Authenticator{}, items, "s3cret-s3cret-s3cret");
  auto parsed = radius::parse(wire);
  ASSERT_TRUE(parsed.ok());
  std::vector<radius::Attribute> library;
  for (const auto& a : parsed->attributes)
    if (a.type != 80) library.push_back(a);  // the library's Message-Authenticator
  ASSERT_EQ(library.size(), d.reply.size());
  for (std::size_t i = 0; i < library.size(); ++i) {
    EXPECT_EQ(d.reply[i].type, library[i].type) << d.reply[i].name;
    EXPECT_EQ(d.reply[i].value, library[i].value) << d.reply[i].name;
  }
  // Aruba (14823), vendor type 1, as written in the rule.
  EXPECT_EQ(d.reply[0].type, 26);
  EXPECT_EQ(Bytes(d.reply[0].value.begin(), d.reply[0].value.begin() + 6), (Bytes{0, 0, 0x39, 0xE7, 1, 10}));
  EXPECT_EQ(d.reply[4].value, (Bytes{0x02, 'g', 'u', 'e', 's', 't'}));
}

TEST_F(Engine_, SessionTimeoutIsCappedByMaximumAndNotAfter) {
  const ca::UnixTime now = kTuesdayMorning;
  EXPECT_EQ(capped_session_timeout(3600, 86400, now + 100 * kDay, now), 3600u);
  EXPECT_EQ(capped_session_timeout(std::nullopt, 86400, now + 100 * kDay, now), 86400u);
  EXPECT_EQ(capped_session_timeout(200000, 86400, now + 100 * kDay, now), 86400u);
  EXPECT_EQ(capped_session_timeout(3600, 86400, now + 600, now), 600u);  // the certificate ends first
  EXPECT_EQ(capped_session_timeout(3600, 86400, now, now), 1u);          // never 0 ("no limit")
}

TEST_F(Engine_, DispositionForDisableIsCarriedInTheDecision) {
  Engine e(resolver());
  e.load_text(R"([[rule]]
name = "q"
on_disable = "coa"
coa_vlan = 999
coa_reply = { "Filter-Id" = "quarantine" }
)",
              "p.toml");
  const Decision d = e.decide(laptop());
  EXPECT_EQ(d.on_disable, SessionAction::coa);
  ASSERT_EQ(d.coa_reply.size(), 4u);
  EXPECT_EQ(d.coa_reply[2].value, (Bytes{0x01, '9', '9', '9'}));
  EXPECT_EQ(d.coa_reply[3].value_text, "quarantine");
  EXPECT_TRUE(d.reply.empty());
  Engine plain(resolver());
  EXPECT_EQ(plain.decide(laptop()).on_disable, SessionAction::disconnect);
}

TEST_F(Engine_, BadFilesAreRefusedWithTheirLine) {
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\ndevice_group = [\"staff\"]\n"), "p.toml:3: rule 'a': unknown key 'device_group'");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\n\nreply = { \"Filter-Idd\" = \"x\" }\n"),
            "p.toml:4: rule 'a': RADIUS dictionary: unknown attribute 'Filter-Idd'");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\nvlan = 5000\n"), "p.toml:3: rule 'a': vlan must be 1..4094");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\ntime = \"8-18\"\n"),
            "p.toml:3: rule 'a': time must be \"HH:MM-HH:MM\" (local time; may wrap midnight)");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\n[[rule]]\nname = \"b\"\n[[rule]]\nname = \"a\"\n"),
            "p.toml:6: duplicate rule name 'a' (first defined at line 1)");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\nsession_timeout = \"1h\"\n"),
            "p.toml:3: rule 'a': session_timeout must be an integer");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\nnas_port_type = [\"Wireless-802.11x\"]\n").substr(0, 36),
            "p.toml:3: rule 'a': nas_port_type: R");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\nreply = { \"Session-Timeout\" = 5 }\n"),
            "p.toml:3: rule 'a': Session-Timeout: the server sets Session-Timeout (use session_timeout) itself");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\nreply = { \"MS-MPPE-Recv-Key\" = \"0x00\" }\n").substr(0, 20), "p.toml:3: rule 'a': ");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\naction = \"reject\"\nvlan = 3\n"),
            "p.toml:4: rule 'a': vlan has no meaning in a reject rule");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\ncoa_vlan = 3\n"),
            "p.toml:3: rule 'a': coa_vlan/coa_reply need on_disable = \"coa\"");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\ndays = [\"mon\", \"someday\"]\n"),
            "p.toml:3: rule 'a': days: unknown day 'someday' (mon, tue, wed, thu, fri, sat, sun)");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\ntime = \"10:00-10:00\"\n"),
            "p.toml:3: rule 'a': time window \"10:00-10:00\" is ambiguous: start and end are the same");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\nssid = []\n"), "p.toml:3: rule 'a': ssid must not be empty (it would never match)");
  EXPECT_EQ(refusal("[[rule]]\nvlan = 3\n"), "p.toml:1: [[rule]] needs a name");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a b\"\n"), "p.toml:2: rule name 'a b' must be 1-64 characters of A-Z a-z 0-9 - _ .");
  EXPECT_EQ(refusal("rules = 1\n"), "p.toml:1: unknown key 'rules' (expected [[rule]] tables and default)");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\nreason = \"x\"\naction = \"reject\"\n[[rule]\n").substr(0, 9), "p.toml:5:");
  EXPECT_EQ(refusal("[[rule]]\nname = \"a\"\naction = \"reject\"\nreason = \"a\\nforged line\"\n"),
            "p.toml:4: rule 'a': reason must be non-empty printable text");
}

TEST_F(Engine_, ARefusedReloadKeepsTheOldRules) {
  Engine e(resolver());
  e.load_text(kPolicy, "good.toml");
  EXPECT_EQ(e.decide(laptop()).rule, "staff-wifi");
  EXPECT_THROW(e.load_text("[[rule]]\nname = \"x\"\nvlan = 0\n", "bad.toml"), PolicyError);
  EXPECT_EQ(e.origin(), "good.toml");
  EXPECT_EQ(e.rule_count(), 3u);
  EXPECT_EQ(e.decide(laptop()).rule, "staff-wifi");
  EXPECT_THROW(e.load_file("/nonexistent/policy.toml"), PolicyError);
  EXPECT_EQ(e.decide(laptop()).rule, "staff-wifi");
}

TEST_F(Engine_, CountersCarryOverAReloadByRuleName) {
  Engine e(resolver());
  e.load_text(kPolicy, "p.toml");
  for (int i = 0; i < 3; ++i) e.decide(laptop());
  e.load_text("[[rule]]\nname = \"new\"\nnas = [\"x\"]\n[[rule]]\nname = \"staff-wifi\"\nvlan = 21\n", "p2.toml");
  const auto stats = e.stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].matches, 0u);
  EXPECT_EQ(stats[1].matches, 3u);
  EXPECT_EQ(e.decide(laptop()).reply[2].value_text, "21");  // the new rules decide
  EXPECT_EQ(e.stats()[1].matches, 4u);
}

// Readers never see a half-built rule set: every decision comes from one whole file.
TEST_F(Engine_, ReloadsWhileOtherThreadsDecide) {
  Engine e(resolver());
  const std::string a = "[[rule]]\nname = \"a\"\nvlan = 10\nreply = { \"Filter-Id\" = \"a\" }\n";
  const std::string b = "[[rule]]\nname = \"b\"\nvlan = 20\nreply = { \"Filter-Id\" = \"b\" }\n";
  e.load_text(a, "a.toml");
  std::atomic<bool> stop{false};
  std::atomic<long> decisions{0}, torn{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      const AccessContext c = laptop();
      while (!stop.load()) {
        const Decision d = e.decide(c);
        const bool whole = d.reply.size() == 4 && d.reply[3].value_text == d.rule &&
                           d.reply[2].value_text == (d.rule == "a" ? "10" : "20");
        if (!whole) ++torn;
        ++decisions;
      }
    });
  }
  // Keep swapping until the readers have decided plenty of times across the swaps.
  for (int i = 0; i < 200 || decisions.load() < 5000; ++i) e.load_text(i % 2 ? a : b, "swap.toml");
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(decisions.load(), 0);
  EXPECT_EQ(e.stats().size(), 1u);
}

}  // namespace
}  // namespace portcullis::policy::testing
