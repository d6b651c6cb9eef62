// Shared by the policy unit tests: a resolver backed by the real RADIUS dictionary (as the
// service uses), a context for a typical device, and fixed instants in a fixed time zone.
#pragma once

#include "policy/engine.hpp"
#include "radius/dictionary.hpp"
#include "radius/reply_resolver.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <string>

namespace portcullis::policy::testing {

inline AttributeResolver resolver() { return radius::dictionary_resolver(radius::Dictionary::load()); }

// Time-of-day and day-of-week rules read the process's local time: pin it to UTC so the
// instants below mean what their names say on any machine.
class PolicyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("TZ", "UTC", 1);
    tzset();
  }

  // Tuesday 2025-01-07 10:30:00 UTC.
  static constexpr ca::UnixTime kTuesdayMorning = 1736245800;
  static constexpr ca::UnixTime kDay = 86400;

  static AccessContext laptop() {
    AccessContext c;
    c.device_id = 7;
    c.device_name = "laptop-7";
    c.device_groups = {"staff", "byod"};
    c.profile = "device";
    c.subject = "CN=laptop-7,O=Example";
    c.sans = {"DNS:laptop-7.corp.example", "email:ann@example.org"};
    c.serial_hex = "0A0B";
    c.now = kTuesdayMorning;
    c.cert_not_after = kTuesdayMorning + 100 * kDay;
    c.nas_name = "wlc-1";
    c.nas_groups = {"campus"};
    c.called_station_id = "00-11-22-33-44-55:corp-wifi";
    c.nas_port_type = 19;  // Wireless-802.11
    c.calling_station_id = "02-00-00-00-00-01";
    return c;
  }

  // The rule that decides for `c` under a one-rule file made of `body`, or "default".
  std::string decided_by(const std::string& body, const AccessContext& c) {
    Engine e(resolver());
    e.load_text("[[rule]]\nname = \"r\"\n" + body + "\n", "t.toml");
    return e.decide(c).rule;
  }
};

}  // namespace portcullis::policy::testing
