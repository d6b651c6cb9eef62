// Every condition type of a policy rule, each seen matching and not matching, through the
// real rule-file loader (so the key names are tested too).
#include "policy/conditions.hpp"
#include "policy/glob.hpp"
#include "policy_fixture.hpp"

namespace portcullis::policy::testing {
namespace {

using Conditions = PolicyTest;

TEST(PolicyGlob, StarQuestionMarkAndCase) {
  EXPECT_TRUE(glob_match("CN=laptop-*", "CN=laptop-7,O=Example"));
  EXPECT_TRUE(glob_match("cn=LAPTOP-?,*", "CN=laptop-7,O=Example"));
  EXPECT_FALSE(glob_match("CN=laptop-?,*", "CN=laptop-77,O=Example"));
  EXPECT_TRUE(glob_match("DNS:*.corp.example", "DNS:a.b.corp.example"));
  EXPECT_FALSE(glob_match("DNS:*.corp.example", "DNS:corp.example"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("", "x"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYbZc"));
  // A pathological pattern against a long subject stays fast (no exponential backtracking).
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST(PolicySsid, FromCalledStationId) {
  EXPECT_EQ(ssid_from_called_station("00-11-22-33-44-55:corp-wifi"), "corp-wifi");
  EXPECT_EQ(ssid_from_called_station("00:11:22:33:44:55:corp:wifi"), "corp:wifi");  // ':' in the SSID
  EXPECT_EQ(ssid_from_called_station("001122334455:guest"), "guest");
  EXPECT_EQ(ssid_from_called_station("0011.2233.4455:guest"), "guest");
  EXPECT_EQ(ssid_from_called_station("00-11-22-33-44-55"), std::nullopt);  // wired: no SSID
  EXPECT_EQ(ssid_from_called_station("corp-wifi"), std::nullopt);
  EXPECT_EQ(ssid_from_called_station(""), std::nullopt);
}

TEST(PolicyClock, ParsesTimesAndDays) {
  EXPECT_EQ(parse_clock_minute("08:00"), 480);
  EXPECT_EQ(parse_clock_minute("23:59"), 1439);
  EXPECT_EQ(parse_clock_minute("24:00"), std::nullopt);
  EXPECT_EQ(parse_clock_minute("24:00", true), 1440);
  EXPECT_EQ(parse_clock_minute("8:00"), std::nullopt);
  EXPECT_EQ(parse_clock_minute("08:60"), std::nullopt);
  EXPECT_EQ(parse_weekday("Mon"), 1);
  EXPECT_EQ(parse_weekday("sunday"), 0);
  EXPECT_EQ(parse_weekday("funday"), std::nullopt);
}

TEST_F(Conditions, DeviceGroupsAnyOf) {
  EXPECT_EQ(decided_by("device_groups = [\"guests\", \"byod\"]", laptop()), "r");
  EXPECT_EQ(decided_by("device_groups = \"staff\"", laptop()), "r");
  EXPECT_EQ(decided_by("device_groups = [\"guests\"]", laptop()), "default");
  AccessContext none = laptop();
  none.device_groups.clear();
  EXPECT_EQ(decided_by("device_groups = [\"staff\"]", none), "default");
}

TEST_F(Conditions, CertificateProfile) {
  EXPECT_EQ(decided_by("profile = [\"device\"]", laptop()), "r");
  EXPECT_EQ(decided_by("profile = [\"server\", \"kiosk\"]", laptop()), "default");
}

TEST_F(Conditions, SubjectGlob) {
  EXPECT_EQ(decided_by("subject = \"CN=laptop-*\"", laptop()), "r");
  EXPECT_EQ(decided_by("subject = [\"CN=phone-*\", \"*,O=Example\"]", laptop()), "r");
  EXPECT_EQ(decided_by("subject = \"CN=phone-*\"", laptop()), "default");
}

TEST_F(Conditions, SanGlobOnAnySan) {
  EXPECT_EQ(decided_by("san = \"DNS:*.corp.example\"", laptop()), "r");
  EXPECT_EQ(decided_by("san = \"email:*@example.org\"", laptop()), "r");
  EXPECT_EQ(decided_by("san = \"URI:*\"", laptop()), "default");
  AccessContext no_san = laptop();
  no_san.sans.clear();
  EXPECT_EQ(decided_by("san = \"*\"", no_san), "default");
}

TEST_F(Conditions, NasNameAndNasGroup) {
  EXPECT_EQ(decided_by("nas = [\"wlc-1\", \"wlc-2\"]", laptop()), "r");
  EXPECT_EQ(decided_by("nas = \"wlc-9\"", laptop()), "default");
  EXPECT_EQ(decided_by("nas_group = [\"campus\"]", laptop()), "r");
  EXPECT_EQ(decided_by("nas_group = [\"branch\"]", laptop()), "default");
}

TEST_F(Conditions, SsidFromCalledStationId) {
  EXPECT_EQ(decided_by("ssid = [\"corp-wifi\"]", laptop()), "r");
  EXPECT_EQ(decided_by("ssid = [\"Corp-WiFi\"]", laptop()), "default");  // SSIDs are case-sensitive octets
  AccessContext wired = laptop();
  wired.called_station_id = "00-11-22-33-44-55";
  EXPECT_EQ(decided_by("ssid = [\"corp-wifi\"]", wired), "default");
}

TEST_F(Conditions, NasPortTypeByNameOrNumber) {
  EXPECT_EQ(decided_by("nas_port_type = [\"Wireless-802.11\"]", laptop()), "r");
  EXPECT_EQ(decided_by("nas_port_type = [\"Ethernet\", 19]", laptop()), "r");
  EXPECT_EQ(decided_by("nas_port_type = \"Virtual\"", laptop()), "default");
  AccessContext absent = laptop();
  absent.nas_port_type.reset();
  EXPECT_EQ(decided_by("nas_port_type = 19", absent), "default");
}

TEST_F(Conditions, TimeOfDayWindowAndMidnightWrap) {
  AccessContext c = laptop();  // 10:30
  EXPECT_EQ(decided_by("time = \"08:00-18:00\"", c), "r");
  EXPECT_EQ(decided_by("time = \"10:31-18:00\"", c), "default");
  EXPECT_EQ(decided_by("time = \"08:00-10:30\"", c), "default");  // end is exclusive
  EXPECT_EQ(decided_by("time = \"10:30-10:31\"", c), "r");        // start is inclusive
  EXPECT_EQ(decided_by("time = \"22:00-06:00\"", c), "default");
  c.now = kTuesdayMorning - 9 * 3600;  // 01:30
  EXPECT_EQ(decided_by("time = \"22:00-06:00\"", c), "r");
  c.now = kTuesdayMorning + 13 * 3600;  // 23:30
  EXPECT_EQ(decided_by("time = \"22:00-06:00\"", c), "r");
  EXPECT_EQ(decided_by("time = \"18:00-24:00\"", c), "r");
  EXPECT_EQ(decided_by("time = \"00:00-24:00\"", c), "r");  // the whole day
}

TEST_F(Conditions, DaysOfWeek) {
  AccessContext c = laptop();  // Tuesday
  EXPECT_EQ(decided_by("days = [\"mon\", \"tue\"]", c), "r");
  EXPECT_EQ(decided_by("days = [\"sat\", \"sun\"]", c), "default");
  c.now += 4 * kDay;  // Saturday
  EXPECT_EQ(decided_by("days = [\"sat\", \"sun\"]", c), "r");
  // Both together: the window and the day of the request.
  EXPECT_EQ(decided_by("days = [\"sat\"]\ntime = \"08:00-12:00\"", c), "r");
  EXPECT_EQ(decided_by("days = [\"sat\"]\ntime = \"12:00-18:00\"", c), "default");
}

TEST_F(Conditions, DaysUntilCertificateExpiry) {
  AccessContext c = laptop();
  c.cert_not_after = c.now + 13 * kDay;
  EXPECT_EQ(decided_by("expires_within_days = 14", c), "r");
  c.cert_not_after = c.now + 14 * kDay;  // exactly 14 days left: not "fewer than 14"
  EXPECT_EQ(decided_by("expires_within_days = 14", c), "default");
}

TEST_F(Conditions, AllConditionsOfARuleMustHold) {
  EXPECT_EQ(decided_by("device_groups = [\"staff\"]\nssid = [\"corp-wifi\"]\nnas_group = [\"campus\"]", laptop()), "r");
  EXPECT_EQ(decided_by("device_groups = [\"staff\"]\nssid = [\"guest\"]", laptop()), "default");
}

}  // namespace
}  // namespace portcullis::policy::testing
