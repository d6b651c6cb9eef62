// The admin API routes the browser console reads and acts through: event text, device
// filters and groups, sessions (ids, SSIDs, disconnect), policy test, overview, NAS list.
#include "tests/unit/app/admin/api_fixture.hpp"

#include "app/policy_control.hpp"

#include <fstream>

namespace {

TEST_F(AdminApiTest, EveryEventCarriesTheSentenceWhySaysForIt) {
  const auto now = static_cast<ca::UnixTime>(std::time(nullptr));
  ca::Event radius;
  radius.at = now - 40;
  radius.kind = "radius";
  radius.outcome = "reject";
  radius.reason = "device_disabled";
  radius.device = "laptop-9";
  radius.nas = "wlc-1";
  ca::Event scep;
  scep.at = now - 30;
  scep.kind = "scep";
  scep.outcome = "reject";
  scep.reason = "challenge_used";
  scep.cn = "laptop-9";
  ca::Event dynauth;
  dynauth.at = now - 20;
  dynauth.kind = "dynauth";
  dynauth.outcome = "timeout";
  dynauth.reason = "timeout";
  dynauth.nas = "wlc-1";
  dynauth.detail = "Disconnect timeout for session s-1 (revoked) after 3 attempt(s), 3000 ms";
  ca::Event drop;
  drop.at = now - 10;
  drop.kind = "nas";
  drop.outcome = "drop";
  drop.reason = "bad_message_authenticator";
  drop.nas_ip = "192.0.2.9";
  drop.count = 7;
  ledger_->append_events({radius, scep, dynauth, drop});

  Reply all = call("GET", "/api/v1/events");
  ASSERT_EQ(all.status, 200) << all.raw.body;
  ASSERT_EQ(all.body["events"].size(), 4u);
  const json& e = all.body["events"];
  EXPECT_EQ(e[0]["text"],
            "7 datagrams from 192.0.2.9 were dropped: its Message-Authenticator did not verify, which usually means "
            "the shared secret differs between the NAS and its [[radius.clients]] entry");
  EXPECT_EQ(e[1]["text"],
            "NAS wlc-1 did not answer after every retransmission (" + dynauth.detail +
                "): check the client's coa_port and that the NAS accepts dynamic authorization from this server");
  // The same sentences as `why` (why_words.cpp), not a second wording.
  Reply why = call("GET", "/api/v1/why/laptop-9");
  ASSERT_EQ(why.status, 200) << why.raw.body;
  EXPECT_EQ(e[2]["text"], why.body["enrollment"]["explanation"]);
  EXPECT_EQ(e[3]["text"], why.body["latest"][0]["explanation"]);
  EXPECT_EQ(e[3]["text"], "the device is disabled; to let it back in: `portcullis devices enable laptop-9`");
}

TEST_F(AdminApiTest, DevicesFilterByGroupMacSerialAndCountEveryMatch) {
  call("POST", "/api/v1/devices", json{{"name", "laptop-1"}, {"groups", {"staff"}}, {"owner", "ann"}}.dump());
  call("POST", "/api/v1/devices", json{{"name", "laptop-2"}, {"groups", {"staff", "byod"}}}.dump());
  call("POST", "/api/v1/devices", json{{"name", "printer"}, {"groups", {"iot"}}}.dump());
  const std::string serial = issue("laptop-2", false)["serial"];
  ca::Event seen;
  seen.at = now();
  seen.kind = "radius";
  seen.outcome = "accept";
  seen.mac = "02:00:5e:10:00:01";
  seen.device = "printer";
  ledger_->append_events({seen});

  auto names_of = [&](const std::string& query) {
    Reply r = call("GET", "/api/v1/devices" + query);
    EXPECT_EQ(r.status, 200) << query << " -> " << r.raw.body;
    std::vector<std::string> out;
    for (const auto& d : r.body["devices"]) out.push_back(d["name"]);
    return std::make_pair(out, r.body["total"]);
  };
  EXPECT_EQ(names_of("?group=staff").first, (std::vector<std::string>{"laptop-1", "laptop-2"}));
  EXPECT_EQ(names_of("?group=staff&limit=1&offset=1"), std::make_pair(std::vector<std::string>{"laptop-2"}, json(2)));
  EXPECT_EQ(names_of("?mac=02-00-5E-10-00-01").first, (std::vector<std::string>{"printer"}));
  // The serial in lower case with separators, as people copy it.
  std::string spaced;
  for (std::size_t i = 0; i < serial.size(); i += 2) spaced += (i ? ":" : "") + serial.substr(i, 2);
  for (auto& c : spaced) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(names_of("?serial=" + spaced).first, (std::vector<std::string>{"laptop-2"}));
  EXPECT_EQ(names_of("?search=ann").first, (std::vector<std::string>{"laptop-1"}));
  EXPECT_EQ(names_of("?limit=1"), std::make_pair(std::vector<std::string>{"laptop-1"}, json(3)));
  EXPECT_EQ(names_of("?group=iot&enabled=false").second, 0);

  expect_refused("GET", "/api/v1/devices?mac=02:00:5e", "", 400);
  expect_refused("GET", "/api/v1/devices?serial=xyz", "", 400);
  expect_refused("GET", "/api/v1/devices?group=" + std::string(65, 'g'), "", 400);
  expect_refused("GET", "/api/v1/devices?grp=staff", "", 400);
}

TEST_F(AdminApiTest, PutGroupsReplacesADevicesGroupsAudited) {
  const json d = create_device("tablet-4");
  const std::string serial = issue("tablet-4", false)["serial"];
  Reply r = call("PUT", "/api/v1/devices/tablet-4/groups", json{{"groups", {"voice", "staff", "voice"}}}.dump());
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.body["groups"], json({"staff", "voice"}));
  EXPECT_EQ(r.body["name"], "tablet-4");
  EXPECT_EQ(ledger_->find_device_by_name("tablet-4")->groups, (std::vector<std::string>{"staff", "voice"}));
  // What RADIUS's policy sees: the in-memory index answers with the new groups at once.
  EXPECT_EQ(index_.by_serial_hex(serial, now()).device_groups, (std::vector<std::string>{"staff", "voice"}));
  const auto audit = ledger_->audit({"tablet-4", "device.groups", 10});
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "api:ops");
  // By id too; an empty list clears them.
  Reply cleared = call("PUT", "/api/v1/devices/" + std::to_string(d["id"].get<std::int64_t>()) + "/groups",
                       R"({"groups":[]})");
  ASSERT_EQ(cleared.status, 200) << cleared.raw.body;
  EXPECT_TRUE(cleared.body["groups"].empty());

  expect_refused("PUT", "/api/v1/devices/tablet-4/groups", "{}", 400);
  expect_refused("PUT", "/api/v1/devices/tablet-4/groups", R"({"groups":"staff"})", 400);
  expect_refused("PUT", "/api/v1/devices/tablet-4/groups", R"({"groups":[""]})", 400);
  expect_refused("PUT", "/api/v1/devices/tablet-4/groups", R"({"groups":["ab"]})", 400);
  expect_refused("PUT", "/api/v1/devices/tablet-4/groups", json{{"groups", std::vector<std::string>(65, "g")}}.dump(), 400);
  expect_refused("PUT", "/api/v1/devices/tablet-4/groups", R"({"groups":["x"],"enabled":true})", 400);
  expect_refused("PUT", "/api/v1/devices/nope/groups", R"({"groups":["x"]})", 404);
  expect_refused("POST", "/api/v1/devices/tablet-4/groups", R"({"groups":["x"]})", 405);
}

TEST_F(AdminApiTest, SessionsCarryAStableIdAndTheSsidAndFilterByNasSsidDevice) {
  const std::string serial = issue("phone-5")["serial"];
  ca::RadiusSessionRow row;
  row.nas = "wlc-1";
  row.acct_session_id = "a-1";
  row.serial = serial;
  row.ssid = "corp";
  row.started_at = row.updated_at = now() - 100;
  ledger_->record_radius_session(row);
  row.nas = "wlc-2";
  row.acct_session_id = "a-2";
  row.ssid = "guest";
  row.serial = "";
  row.updated_at = now() - 50;
  ledger_->record_radius_session(row);

  Reply all = call("GET", "/api/v1/sessions");
  ASSERT_EQ(all.status, 200) << all.raw.body;
  ASSERT_EQ(all.body["sessions"].size(), 2u);
  const json first = all.body["sessions"][1];
  EXPECT_EQ(first["acct_session_id"], "a-1");
  EXPECT_EQ(first["ssid"], "corp");
  ASSERT_TRUE(first["id"].is_number_integer());
  // The id stays when accounting updates the session.
  row.nas = "wlc-1";
  row.acct_session_id = "a-1";
  row.ssid = "";  // an Interim-Update without Called-Station-Id keeps the SSID
  row.updated_at = now();
  ledger_->record_radius_session(row);
  Reply again = call("GET", "/api/v1/sessions?nas=wlc-1");
  ASSERT_EQ(again.body["sessions"].size(), 1u);
  EXPECT_EQ(again.body["sessions"][0]["id"], first["id"]);
  EXPECT_EQ(again.body["sessions"][0]["ssid"], "corp");
  EXPECT_EQ(call("GET", "/api/v1/sessions?ssid=guest").body["sessions"][0]["acct_session_id"], "a-2");
  EXPECT_EQ(call("GET", "/api/v1/sessions?device=phone-5").body["sessions"].size(), 1u);
  EXPECT_EQ(call("GET", "/api/v1/sessions?ssid=none").body["sessions"].size(), 0u);
  expect_refused("GET", "/api/v1/sessions?device=nobody", "", 404);
  expect_refused("GET", "/api/v1/sessions?mac=x", "", 400);
}

TEST_F(AdminApiTest, DisconnectSendsForALiveSessionOnlyAndIsAudited) {
  ca::RadiusSessionRow row;
  row.nas = "wlc-1";
  row.acct_session_id = "live-1";
  row.calling_station_id = "02-00-5E-10-00-09";
  row.started_at = row.updated_at = now();
  ledger_->record_radius_session(row);
  row.acct_session_id = "gone-1";
  row.stopped_at = now();
  ledger_->record_radius_session(row);
  std::int64_t live_id = 0, gone_id = 0;
  const Reply listed = call("GET", "/api/v1/sessions?live=false");
  ASSERT_EQ(listed.body["sessions"].size(), 2u) << listed.raw.body;
  for (const auto& s : listed.body["sessions"])
    (s["acct_session_id"] == "live-1" ? live_id : gone_id) = s["id"].get<std::int64_t>();

  const std::string live = "/api/v1/sessions/" + std::to_string(live_id) + "/disconnect";
  expect_refused("POST", live, "", 503);  // no RADIUS: nothing can be sent
  std::vector<std::pair<std::string, std::string>> sent;
  api_->set_session_disconnect([&](const ca::RadiusSessionRow& r, const std::string& why) {
    sent.emplace_back(r.nas + "/" + r.acct_session_id, why);
    return true;
  });
  Reply r = call("POST", live);
  ASSERT_EQ(r.status, 202) << r.raw.body;
  EXPECT_EQ(r.body["session"]["acct_session_id"], "live-1");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], std::make_pair(std::string("wlc-1/live-1"), std::string("operator request by api:ops")));
  const auto audit = ledger_->audit({"wlc-1/live-1", "session.disconnect", 10});
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "api:ops");

  expect_refused("POST", "/api/v1/sessions/" + std::to_string(gone_id) + "/disconnect", "", 409);
  expect_refused("POST", "/api/v1/sessions/999999/disconnect", "", 404);
  expect_refused("POST", "/api/v1/sessions/abc/disconnect", "", 404);
  expect_refused("POST", live, R"({"reason":"x"})", 400);
  expect_refused("GET", live, "", 405);
  EXPECT_EQ(sent.size(), 1u);
}

TEST_F(AdminApiTest, PolicyTestAnswersWhatTheCliPrints) {
  EXPECT_EQ(call("POST", "/api/v1/policy/test", "{}").status, 404);  // no engine wired
  auto engine = app::make_policy_engine();
  const std::string file = dir_ + "/policy.toml";
  std::ofstream(file) << "[[rule]]\nname = \"guests\"\nssid = [\"guest\"]\naction = \"reject\"\n"
                         "reason = \"no guests here\"\n\n"
                         "[[rule]]\nname = \"staff\"\ndevice_groups = [\"staff\"]\nnas_group = [\"campus\"]\nvlan = 20\n";
  api_->set_policy(app::PolicyControl{engine.get(), file, [](const std::string& nas) {
                                        return nas == "wlc-1" ? std::optional<std::vector<std::string>>({"campus"})
                                                              : std::nullopt;
                                      }});
  engine->load_file(file);  // the running rules, whose counters a test must not move
  call("POST", "/api/v1/devices", json{{"name", "laptop-8"}, {"groups", {"staff"}}}.dump());
  issue("laptop-8", false);

  Reply accept = call("POST", "/api/v1/policy/test", R"({"device":"laptop-8","nas":"wlc-1","ssid":"corp"})");
  ASSERT_EQ(accept.status, 200) << accept.raw.body;
  EXPECT_EQ(accept.body["accept"], true);
  EXPECT_EQ(accept.body["rule"], "staff");
  EXPECT_EQ(accept.body["rule_line"], 7);
  EXPECT_EQ(accept.body["nas_groups"], json({"campus"}));
  EXPECT_EQ(accept.body["policy_file"], file);
  EXPECT_TRUE(accept.body.contains("serial"));
  bool vlan = false;
  for (const auto& a : accept.body["reply"]) vlan = vlan || (a["name"] == "Tunnel-Private-Group-Id:1" && a["value"] == "20");
  EXPECT_TRUE(vlan) << accept.body.dump();
  // The SSID from a Called-Station-Id attribute, as a NAS sends it.
  Reply guest = call("POST", "/api/v1/policy/test",
                     R"({"device":"laptop-8","nas":"wlc-1","attributes":{"Called-Station-Id":"00-11-22-33-44-55:guest"}})");
  EXPECT_EQ(guest.body["accept"], false);
  EXPECT_EQ(guest.body["rule"], "guests");
  EXPECT_EQ(guest.body["reason"], "no guests here");
  // Groups alone, no device: what a device in those groups would get.
  Reply groups = call("POST", "/api/v1/policy/test", R"({"groups":["visitors"],"nas":"wlc-1"})");
  ASSERT_EQ(groups.status, 200) << groups.raw.body;
  EXPECT_TRUE(groups.body["device_id"].is_null());
  EXPECT_EQ(groups.body["rule"], "default");  // no rule matched: the file's default (accept)
  EXPECT_EQ(groups.body["accept"], true);
  ASSERT_EQ(engine->stats().size(), 2u);
  EXPECT_EQ(engine->stats()[1].matches, 0u);  // a test is not traffic: no counter moved
  EXPECT_EQ(engine->default_matches(), 0u);

  expect_refused("POST", "/api/v1/policy/test", R"({"device":"nobody"})", 404);
  expect_refused("POST", "/api/v1/policy/test", R"({"device":"laptop-8","nas":"wlc-9"})", 404);
  expect_refused("POST", "/api/v1/policy/test", R"({"attributes":{"Filter-Id":"x"}})", 400);
  expect_refused("POST", "/api/v1/policy/test", R"({"attributes":{"NAS-Port-Type":"Carrier-Pigeon"}})", 400);
  expect_refused("POST", "/api/v1/policy/test", R"({"at":"yesterday"})", 400);
  expect_refused("POST", "/api/v1/policy/test", R"({"vlan":1})", 400);
  std::ofstream(file) << "[[rule]]\nname = \"x\"\nvlan = \"\"\n";
  expect_refused("POST", "/api/v1/policy/test", R"({"groups":[]})", 422);
}

TEST_F(AdminApiTest, OverviewCountsTheLastDayPerMinuteReasonsAndEnrollments) {
  api_->set_node(app::NodeInfo{"ca-1.example.org", "sqlite", now() - 3600});
  const ca::UnixTime t = now();
  auto radius = [](ca::UnixTime at, const char* outcome, const char* reason, const char* nas) {
    ca::Event e;
    e.at = at;
    e.kind = "radius";
    e.outcome = outcome;
    e.reason = reason;
    e.nas = nas;
    return e;
  };
  std::vector<ca::Event> events{radius(t, "accept", "ok", "wlc-1"),           radius(t, "accept", "ok", "wlc-1"),
                                radius(t, "reject", "revoked", "wlc-1"),      radius(t - 120, "reject", "revoked", "wlc-2"),
                                radius(t - 120, "reject", "revoked", "wlc-2"), radius(t - 600, "reject", "expired", "wlc-1"),
                                radius(t - 86400 - 3660, "reject", "expired", "wlc-1"),  // older than a day and its hour
                                radius(t, "abandoned", "timeout", "wlc-1")};
  ca::Event scep;
  scep.at = t - 30;
  scep.kind = "scep";
  for (const char* outcome : {"issued", "renewed", "reject", "pending"}) {
    scep.outcome = outcome;
    events.push_back(scep);
  }
  ledger_->append_events(events);
  issue("laptop-9");

  Reply r = call("GET", "/api/v1/overview");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.body["node"]["name"], "ca-1.example.org");
  EXPECT_EQ(r.body["node"]["status"], "ok");
  EXPECT_GE(r.body["node"]["uptime_seconds"].get<std::int64_t>(), 3600);
  EXPECT_EQ(r.body["node"]["ledger_backend"], "sqlite");
  const json& per_minute = r.body["auth_per_minute"];
  ASSERT_EQ(per_minute["accepted"].size(), 1440u);
  ASSERT_EQ(per_minute["rejected"].size(), 1440u);
  EXPECT_EQ(per_minute["step"], 60);
  EXPECT_EQ(per_minute["start_unix"], (t / 60 - 1439) * 60);
  EXPECT_EQ(per_minute["accepted"][1439], 2);
  EXPECT_EQ(per_minute["rejected"][1439], 1);
  EXPECT_EQ(per_minute["rejected"][1437], 2);
  EXPECT_EQ(per_minute["rejected"][1429], 1);
  std::int64_t rejected = 0;
  for (const auto& n : per_minute["rejected"]) rejected += n.get<std::int64_t>();
  EXPECT_EQ(rejected, 4);
  const json& reasons = r.body["top_reject_reasons"];
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[0], json::parse(R"({"reason":"revoked","count":3,"nases":[{"nas":"wlc-2","count":2},{"nas":"wlc-1","count":1}]})"));
  EXPECT_EQ(reasons[1]["reason"], "expired");
  EXPECT_EQ(reasons[1]["count"], 1);
  EXPECT_EQ(r.body["enrollments"], json::parse(R"({"issued":2,"refused":1,"pending":1})"));
  EXPECT_EQ(r.body["pending_approvals"], 0);
  EXPECT_TRUE(r.body["expiring_30d"].is_number_unsigned());
  expect_refused("GET", "/api/v1/overview?x=1", "", 400);
}

TEST_F(AdminApiTest, NasListsEachClientWithItsCountersAndLastSeen) {
  EXPECT_EQ(call("GET", "/api/v1/nas").body, json::parse(R"({"nas":[]})"));  // nothing wired: no clients
  auto wlc = std::make_shared<portcullis::radius::NasActivity>();
  wlc->count(wlc->requests);
  wlc->count(wlc->requests);
  wlc->count(wlc->accepts);
  wlc->count(wlc->accounting);
  wlc->last_seen = 1700000000;
  api_->set_nas_list([&] {
    return std::vector<app::NasSummary>{{"wlc-1", "udp", "192.0.2.0/24", {"campus"}, wlc, 0},
                                        {"edge-1", "radsec", "", {}, nullptr, 2}};
  });
  Reply r = call("GET", "/api/v1/nas");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.body, json::parse(R"({"nas":[
    {"name":"wlc-1","transport":"udp","address":"192.0.2.0/24","groups":["campus"],
     "last_seen":"2023-11-14T22:13:20Z","last_seen_unix":1700000000,
     "counters":{"requests":2,"accepts":1,"rejects":0,"dropped":0,"accounting":1},"connections":0},
    {"name":"edge-1","transport":"radsec","address":"","groups":[],"last_seen":null,"last_seen_unix":null,
     "counters":{"requests":0,"accepts":0,"rejects":0,"dropped":0,"accounting":0},"connections":2}]})"));
  expect_refused("GET", "/api/v1/nas?name=wlc-1", "", 400);
  expect_refused("POST", "/api/v1/nas", "{}", 405);
}

}  // namespace
