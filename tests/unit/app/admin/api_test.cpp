// AdminApi::handle driven with HttpRequest structs against a real CA (bootstrapped into a
// temp dir), a real SQLite ledger, the identity index, Registry and Issuer. Every refused
// request is checked to have written nothing (devices, certificates, audit rows).
#include "tests/unit/app/admin/api_fixture.hpp"

#include <fstream>
#include <map>

namespace {

TEST_F(AdminApiTest, HealthNeedsNoToken) {
  Reply reply = call("GET", "/api/v1/health", "", nullptr);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, json({{"status", "ok"}}));
}

TEST_F(AdminApiTest, MissingAndWrongTokensGetTheSame401) {
  Reply missing = call("GET", "/api/v1/devices", "", nullptr);
  Reply wrong = call("GET", "/api/v1/devices", "", "not-the-token");
  Reply prefix = call("GET", "/api/v1/devices", "", "ops-token-012345678");  // one character short
  for (const Reply* r : {&missing, &wrong, &prefix}) {
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->raw.body, missing.raw.body);
    bool challenged = false;
    for (const auto& [name, value] : r->raw.headers) challenged |= name == "WWW-Authenticate" && value.rfind("Bearer", 0) == 0;
    EXPECT_TRUE(challenged);
  }
  // Unknown routes are not revealed before authentication either.
  EXPECT_EQ(call("GET", "/api/v1/nowhere", "", nullptr).status, 401);

  app::HttpRequest basic;
  basic.method = "GET";
  basic.path = "/api/v1/devices";
  basic.headers["authorization"] = std::string("Basic ") + kToken;
  EXPECT_EQ(api_->handle(basic).status, 401);
  basic.headers["authorization"] = std::string("bearer ") + kToken;  // the scheme is case-insensitive
  EXPECT_EQ(api_->handle(basic).status, 200);
}

TEST_F(AdminApiTest, TheTokenNameIsTheAuditActor) {
  Reply reply = call("POST", "/api/v1/devices", R"({"name":"by-ci"})", kCiToken);
  ASSERT_EQ(reply.status, 201);
  auto entries = ledger_->audit({});
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries.front().actor, "api:ci");
  EXPECT_EQ(entries.front().action, "device.create");
}

TEST_F(AdminApiTest, MalformedTokenHashIsRefusedAtConstruction) {
  EXPECT_THROW(app::AdminApi(*registry_, *issuer_, {{"bad", "abc"}}), std::invalid_argument);
  EXPECT_THROW(app::AdminApi(*registry_, *issuer_, {{"bad", std::string(64, 'z')}}), std::invalid_argument);
}

TEST_F(AdminApiTest, DeviceCrud) {
  Reply created = call("POST", "/api/v1/devices",
                       R"({"name":"laptop-1","display_name":"Ann's laptop","owner":"ann","groups":["staff","wifi"]})");
  ASSERT_EQ(created.status, 201) << created.raw.body;
  const auto id = created.body["id"].get<std::int64_t>();
  EXPECT_EQ(created.body["name"], "laptop-1");
  EXPECT_EQ(created.body["groups"], json({"staff", "wifi"}));
  EXPECT_EQ(created.body["enabled"], true);
  EXPECT_TRUE(created.body["created_at"].get<std::string>().ends_with("Z"));

  Reply by_id = call("GET", "/api/v1/devices/" + std::to_string(id));
  EXPECT_EQ(by_id.status, 200);
  EXPECT_EQ(by_id.body["name"], "laptop-1");
  EXPECT_EQ(by_id.body["certificates"], json::array());
  EXPECT_EQ(call("GET", "/api/v1/devices/laptop-1").body["id"], id);

  Reply disabled = call("POST", "/api/v1/devices/laptop-1/disable");
  EXPECT_EQ(disabled.status, 200);
  EXPECT_EQ(disabled.body["enabled"], false);
  EXPECT_EQ(index_.stats().devices, 1u);
  EXPECT_EQ(call("GET", "/api/v1/devices?enabled=false").body["devices"].size(), 1u);
  EXPECT_EQ(call("GET", "/api/v1/devices?enabled=true").body["devices"].size(), 0u);
  EXPECT_EQ(call("POST", "/api/v1/devices/" + std::to_string(id) + "/enable").body["enabled"], true);

  create_device("printer-2");
  EXPECT_EQ(call("GET", "/api/v1/devices").body["devices"].size(), 2u);
  Reply search = call("GET", "/api/v1/devices?search=print&limit=10&offset=0");
  ASSERT_EQ(search.body["devices"].size(), 1u);
  EXPECT_EQ(search.body["devices"][0]["name"], "printer-2");
  EXPECT_EQ(call("GET", "/api/v1/devices?limit=1&offset=1").body["devices"].size(), 1u);
}

TEST_F(AdminApiTest, SqlMetacharactersInNamesAreJustData) {
  const std::string name = "o'brien\"; DROP TABLE devices; --";
  Reply created = call("POST", "/api/v1/devices", json{{"name", name}}.dump());
  ASSERT_EQ(created.status, 201) << created.raw.body;
  // Percent-encoded in the path (RFC 3986 §2.1).
  Reply shown = call("GET", "/api/v1/devices/o%27brien%22%3B%20DROP%20TABLE%20devices%3B%20--");
  EXPECT_EQ(shown.status, 200) << shown.raw.body;
  EXPECT_EQ(shown.body["name"], name);
  EXPECT_EQ(call("GET", "/api/v1/devices?search=%27brien%22%3B").body["devices"].size(), 1u);
  EXPECT_EQ(counts().devices, 1u);
}

TEST_F(AdminApiTest, BadDeviceInputIsRefusedAndWritesNothing) {
  create_device("taken");
  expect_refused("POST", "/api/v1/devices", R"({"name":"taken"})", 409);
  expect_refused("POST", "/api/v1/devices", R"({"name":""})", 400);
  expect_refused("POST", "/api/v1/devices", json{{"name", std::string(129, 'a')}}.dump(), 400);
  expect_refused("POST", "/api/v1/devices", json{{"name", "tab\there"}}.dump(), 400);
  expect_refused("POST", "/api/v1/devices", json{{"name", "c1\xc2\x85"}}.dump(), 400);
  expect_refused("POST", "/api/v1/devices", R"({"name":" padded"})", 400);
  expect_refused("POST", "/api/v1/devices", R"({"name":"12345"})", 400);
  expect_refused("POST", "/api/v1/devices", R"({"name":5})", 400);
  expect_refused("POST", "/api/v1/devices", R"({"name":"x","groups":"staff"})", 400);
  expect_refused("POST", "/api/v1/devices", R"({"name":"x","colour":"red"})", 400);
  expect_refused("POST", "/api/v1/devices", R"({"name":"x")", 400);
  expect_refused("POST", "/api/v1/devices", R"(["x"])", 400);
  expect_refused("POST", "/api/v1/devices", "", 400);
  expect_refused("GET", "/api/v1/devices/no-such-device", "", 404);
  expect_refused("GET", "/api/v1/devices/999", "", 404);
  expect_refused("POST", "/api/v1/devices/no-such-device/disable", "", 404);
  expect_refused("GET", "/api/v1/devices?enabled=maybe", "", 400);
  expect_refused("GET", "/api/v1/devices?limit=0", "", 400);
  expect_refused("GET", "/api/v1/devices?limit=abc", "", 400);
  expect_refused("GET", "/api/v1/devices?colour=red", "", 400);
  expect_refused("GET", "/api/v1/devices/bad%zzescape", "", 400);

  app::HttpRequest text;
  text.method = "POST";
  text.path = "/api/v1/devices";
  text.headers["authorization"] = std::string("Bearer ") + kToken;
  text.headers["content-type"] = "text/plain";
  text.body = R"({"name":"x"})";
  EXPECT_EQ(api_->handle(text).status, 415);
  EXPECT_EQ(counts().devices, 1u);
}

TEST_F(AdminApiTest, UnknownRoutesAndWrongMethods) {
  EXPECT_EQ(call("GET", "/api/v1/widgets").status, 404);
  EXPECT_EQ(call("GET", "/api/v2/devices").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/devices/x/frobnicate").status, 404);
  Reply wrong = call("DELETE", "/api/v1/devices");
  EXPECT_EQ(wrong.status, 405);
  bool allow = false;
  for (const auto& [name, value] : wrong.raw.headers) allow |= name == "Allow" && value == "GET, POST";
  EXPECT_TRUE(allow);
  EXPECT_EQ(call("GET", "/api/v1/devices/x/disable").status, 405);
  EXPECT_EQ(call("POST", "/api/v1/health", "", nullptr).status, 405);
  EXPECT_EQ(call("PUT", "/api/v1/audit").status, 405);
  // Each pattern's methods, and paths one segment off any pattern.
  const auto allow_of = [&](const char* method, const char* target) {
    Reply r = call(method, target);
    EXPECT_EQ(r.status, 405) << target;
    for (const auto& [name, value] : r.raw.headers)
      if (name == "Allow") return value;
    return std::string();
  };
  EXPECT_EQ(allow_of("GET", "/api/v1/requests/7/approve"), "POST");
  EXPECT_EQ(allow_of("DELETE", "/api/v1/certificates"), "GET, POST");
  EXPECT_EQ(allow_of("POST", "/api/v1/why/laptop"), "GET");
  EXPECT_EQ(allow_of("GET", "/api/v1/policy/reload"), "POST");
  EXPECT_EQ(call("GET", "/api/v1").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/devices/x/profile/apple/more").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/why").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/radius/sessions").status, 404);
}

// The operator names the certificate (device, cn, sans); the CSR's subject is left out and
// reported, and a SAN type the profile forbids is refused before anything is signed.
TEST_F(AdminApiTest, IssueNamesWhatTheOperatorSaysNotTheCsr) {
  Reply reply = call("POST", "/api/v1/certificates",
                     json{{"csr", make_csr("someone-else")}, {"device", "printer-2"}, {"create_device", true},
                          {"sans", {"dns:printer-2.corp.example"}}}.dump());
  ASSERT_EQ(reply.status, 201) << reply.raw.body;
  ca::X509Ptr cert = ca::cert_from_pem(reply.body["certificate"].get<std::string>());
  EXPECT_EQ(ca::subject_string(cert.get()), "CN=printer-2");
  EXPECT_EQ(ca::subject_alt_names(cert.get()), std::vector<std::string>{"DNS:printer-2.corp.example"});
  EXPECT_EQ(reply.body["left_out"], json::array({"CN=someone-else"}));

  Reply refused = call("POST", "/api/v1/certificates",
                       json{{"csr", make_csr("printer-3")}, {"device", "printer-3"}, {"create_device", true},
                            {"sans", {"ip:10.0.0.1"}}}.dump());
  EXPECT_EQ(refused.status, 422) << refused.raw.body;
  EXPECT_FALSE(ledger_->find_device_by_name("printer-3").has_value());
}

TEST_F(AdminApiTest, IssueFromCsrCreatingTheDevice) {
  json issued = issue("phone-7");
  EXPECT_EQ(issued["device_created"], true);
  EXPECT_EQ(issued["device"]["name"], "phone-7");
  ca::X509Ptr cert = ca::cert_from_pem(issued["certificate"].get<std::string>());
  const std::string serial = issued["serial"];
  EXPECT_EQ(ca::serial_hex(cert.get()), serial);
  EXPECT_EQ(issued["record"]["status"], "valid");
  EXPECT_EQ(verdict(serial), ca::IdentityVerdict::good);
  EXPECT_EQ(counts().certificates, 1u);

  auto audit = ledger_->audit({.target = serial, .action = "issue"});
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "api:ops");

  // Again, by id (a JSON number), for the now existing device.
  Reply again = call("POST", "/api/v1/certificates",
                     json{{"csr", make_csr("phone-7")}, {"device", issued["device"]["id"]}, {"profile", "device"}}.dump());
  ASSERT_EQ(again.status, 201) << again.raw.body;
  EXPECT_EQ(again.body["device_created"], false);

  Reply shown = call("GET", "/api/v1/certificates/" + serial);
  EXPECT_EQ(shown.status, 200);
  EXPECT_EQ(shown.body["pem"], issued["certificate"]);
  EXPECT_EQ(shown.body["subject"].get<std::string>().find("CN=phone-7"), 0u);
  EXPECT_EQ(call("GET", "/api/v1/devices/phone-7").body["certificates"].size(), 2u);
}

// Every certificate shape (C) names its device, as the CLI's tables do, beside device_id.
TEST_F(AdminApiTest, CertificatesNameTheirDevice) {
  json phone = issue("phone-7");
  json laptop = issue("laptop-2");
  const std::string serial = phone["serial"];
  EXPECT_EQ(phone["record"]["device"], "phone-7");

  Reply listed = call("GET", "/api/v1/certificates");
  ASSERT_EQ(listed.status, 200);
  std::map<std::string, std::string> by_serial;
  for (const auto& c : listed.body["certificates"]) by_serial[c["serial"]] = c["device"];
  EXPECT_EQ(by_serial[serial], "phone-7");
  EXPECT_EQ(by_serial[laptop["serial"].get<std::string>()], "laptop-2");

  EXPECT_EQ(call("GET", "/api/v1/certificates/" + serial).body["device"], "phone-7");
  EXPECT_EQ(call("GET", "/api/v1/devices/phone-7").body["certificates"][0]["device"], "phone-7");
  EXPECT_EQ(call("POST", "/api/v1/certificates/" + serial + "/revoke").body["certificate"]["device"], "phone-7");
  EXPECT_EQ(call("POST", "/api/v1/devices/laptop-2/revoke").body["revoked"][0]["device"], "laptop-2");
}

TEST_F(AdminApiTest, BadIssuanceIsRefusedAndWritesNothing) {
  const std::string csr = make_csr("dev");
  auto body = [&](json extra) {
    json b{{"csr", csr}, {"device", "new-dev"}, {"create_device", true}};
    b.update(extra);
    return b.dump();
  };
  expect_refused("POST", "/api/v1/certificates", body({{"csr", "-----BEGIN CERTIFICATE REQUEST-----\ngarbage\n"}}), 400);
  expect_refused("POST", "/api/v1/certificates", body({{"csr", make_csr("dev", true)}}), 422);
  expect_refused("POST", "/api/v1/certificates", body({{"create_device", false}}), 404);
  expect_refused("POST", "/api/v1/certificates", body({{"device", 4242}}), 404);
  expect_refused("POST", "/api/v1/certificates", body({{"profile", "root-ca"}}), 400);
  expect_refused("POST", "/api/v1/certificates", body({{"device", "99999"}}), 400);  // digits: not a name
  expect_refused("POST", "/api/v1/certificates", body({{"device", json::array()}}), 400);
  expect_refused("POST", "/api/v1/certificates", body({{"create_device", "yes"}}), 400);
  expect_refused("POST", "/api/v1/certificates", R"({"device":"new-dev"})", 400);
  EXPECT_FALSE(ledger_->find_device_by_name("new-dev").has_value());

  create_device("off");
  ASSERT_EQ(call("POST", "/api/v1/devices/off/disable").status, 200);
  expect_refused("POST", "/api/v1/certificates", body({{"device", "off"}}), 409);
}

TEST_F(AdminApiTest, RevokeOneCertificate) {
  const std::string serial = issue("laptop-9")["serial"];
  // Any case, with colons, as people copy serials from openssl output.
  std::string colons;
  for (std::size_t i = 0; i < serial.size(); i += 2) colons += (i ? ":" : "") + serial.substr(i, 2);
  for (auto& c : colons) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

  expect_refused("POST", "/api/v1/certificates/" + serial + "/revoke", R"({"reason":"bored"})", 400);
  EXPECT_EQ(verdict(serial), ca::IdentityVerdict::good);

  Reply revoked = call("POST", "/api/v1/certificates/" + colons + "/revoke", R"({"reason":"keyCompromise"})");
  ASSERT_EQ(revoked.status, 200) << revoked.raw.body;
  EXPECT_EQ(revoked.body["changed"], true);
  EXPECT_EQ(revoked.body["certificate"]["status"], "revoked");
  EXPECT_EQ(revoked.body["certificate"]["revocation_reason"], "keyCompromise");
  EXPECT_EQ(verdict(serial), ca::IdentityVerdict::revoked);

  Reply twice = call("POST", "/api/v1/certificates/" + serial + "/revoke");
  EXPECT_EQ(twice.status, 200);
  EXPECT_EQ(twice.body["changed"], false);
  EXPECT_EQ(twice.body["certificate"]["revocation_reason"], "keyCompromise");  // the first reason stays

  expect_refused("POST", "/api/v1/certificates/7FFFFFFFFFFFFFFF/revoke", "", 404);
  expect_refused("GET", "/api/v1/certificates/7FFFFFFFFFFFFFFF", "", 404);
  expect_refused("POST", "/api/v1/certificates/not-hex/revoke", "", 400);
  expect_refused("GET", "/api/v1/certificates/" + std::string(42, 'A'), "", 400);
}

TEST_F(AdminApiTest, RevokeEveryCertificateOfADevice) {
  const std::string a = issue("tablet")["serial"];
  const std::string b = issue("tablet")["serial"];
  const std::string other = issue("bystander")["serial"];
  Reply reply = call("POST", "/api/v1/devices/tablet/revoke", R"({"reason":"cessationOfOperation"})");
  ASSERT_EQ(reply.status, 200) << reply.raw.body;
  EXPECT_EQ(reply.body["revoked"].size(), 2u);
  EXPECT_EQ(verdict(a), ca::IdentityVerdict::revoked);
  EXPECT_EQ(verdict(b), ca::IdentityVerdict::revoked);
  EXPECT_EQ(verdict(other), ca::IdentityVerdict::good);
  EXPECT_EQ(call("POST", "/api/v1/devices/tablet/revoke").body["revoked"].size(), 0u);
  expect_refused("POST", "/api/v1/devices/ghost/revoke", "", 404);
}

TEST_F(AdminApiTest, CertificateFilters) {
  const std::string kept = issue("alpha")["serial"];
  const std::string gone = issue("beta")["serial"];
  ASSERT_EQ(call("POST", "/api/v1/certificates/" + gone + "/revoke").status, 200);

  auto serials = [&](const std::string& query) {
    Reply reply = call("GET", "/api/v1/certificates" + query);
    EXPECT_EQ(reply.status, 200) << query << " -> " << reply.raw.body;
    std::vector<std::string> out;
    for (const auto& c : reply.body["certificates"]) out.push_back(c["serial"]);
    return out;
  };
  EXPECT_EQ(serials("").size(), 2u);
  EXPECT_EQ(serials("?device=alpha"), std::vector<std::string>{kept});
  EXPECT_EQ(serials("?status=revoked"), std::vector<std::string>{gone});
  EXPECT_EQ(serials("?status=valid"), std::vector<std::string>{kept});
  EXPECT_TRUE(serials("?status=expired").empty());
  EXPECT_EQ(serials("?expiring_before=2999-01-01").size(), 2u);
  EXPECT_EQ(serials("?expiring_before=2999-01-01T00:00:00Z&device=beta"), std::vector<std::string>{gone});
  EXPECT_TRUE(serials("?expiring_before=1000000").empty());
  EXPECT_EQ(serials("?limit=1").size(), 1u);

  expect_refused("GET", "/api/v1/certificates?status=sleepy", "", 400);
  expect_refused("GET", "/api/v1/certificates?expiring_before=next%20week", "", 400);
  expect_refused("GET", "/api/v1/certificates?expiring_before=2025-02-30", "", 400);
  expect_refused("GET", "/api/v1/certificates?device=nobody", "", 404);
  expect_refused("GET", "/api/v1/certificates?limit=5000", "", 400);
  expect_refused("GET", "/api/v1/certificates?serial=1", "", 400);
}

TEST_F(AdminApiTest, AuditLog) {
  create_device("audited");
  ASSERT_EQ(call("POST", "/api/v1/devices/audited/disable").status, 200);
  Reply all = call("GET", "/api/v1/audit");
  ASSERT_EQ(all.status, 200);
  ASSERT_EQ(all.body["entries"].size(), 2u);
  EXPECT_EQ(all.body["entries"][0]["action"], "device.disable");  // newest first
  EXPECT_EQ(all.body["entries"][0]["actor"], "api:ops");
  Reply created = call("GET", "/api/v1/audit?action=device.create&target=audited&limit=5");
  ASSERT_EQ(created.body["entries"].size(), 1u);
  EXPECT_EQ(created.body["entries"][0]["target"], "audited");
  EXPECT_EQ(call("GET", "/api/v1/audit?limit=-1").status, 400);
}

TEST_F(AdminApiTest, RadiusSessionsLiveAndAll) {
  json issued = issue("radius-phone");
  const std::string serial = issued["serial"];
  ca::RadiusSessionRow row;
  row.nas = "wlc";
  row.acct_session_id = "s-1";
  row.serial = serial;
  row.calling_station_id = "aa-bb";
  row.started_at = row.updated_at = 1700000000;
  ledger_->record_radius_session(row);
  row.acct_session_id = "s-2";
  row.updated_at = 1700000100;
  row.stopped_at = 1700000100;
  ledger_->record_radius_session(row);

  Reply live = call("GET", "/api/v1/sessions");
  ASSERT_EQ(live.status, 200) << live.raw.body;
  ASSERT_EQ(live.body["sessions"].size(), 1u);
  const json& s = live.body["sessions"][0];
  EXPECT_EQ(s["acct_session_id"], "s-1");
  EXPECT_EQ(s["serial"], serial);
  EXPECT_EQ(s["device"], "radius-phone");
  EXPECT_EQ(s["started_at"], "2023-11-14T22:13:20Z");
  EXPECT_TRUE(s["stopped_at"].is_null());
  Reply all = call("GET", "/api/v1/sessions?live=false&limit=10");
  ASSERT_EQ(all.body["sessions"].size(), 2u);
  EXPECT_EQ(all.body["sessions"][0]["acct_session_id"], "s-2");  // newest first
  EXPECT_EQ(all.body["sessions"][0]["stopped_at_unix"], 1700000100);
  expect_refused("GET", "/api/v1/sessions?live=maybe", "", 400);
  expect_refused("POST", "/api/v1/sessions", "{}", 405);
}

TEST_F(AdminApiTest, EventsFilteredNewestFirst) {
  const auto now = static_cast<ca::UnixTime>(std::time(nullptr));
  ca::Event old;
  old.at = now - 7200;
  old.kind = "radius";
  old.outcome = "reject";
  old.reason = "revoked";
  old.device = "laptop-7";
  old.mac = "02:00:5e:10:00:01";
  old.nas = "wlc-1";
  old.serial = "6AD6";
  old.duration_ms = 12;
  ca::Event recent = old;
  recent.at = now - 60;
  recent.outcome = "accept";
  recent.reason = "ok";
  ca::Event scep;
  scep.at = now - 30;
  scep.kind = "scep";
  scep.outcome = "reject";
  scep.reason = "challenge_used";
  scep.nas_ip = "192.0.2.7";
  scep.cn = "laptop-7";
  scep.transaction_id = "tx";
  ledger_->append_events({old, recent, scep});

  Reply all = call("GET", "/api/v1/events");
  ASSERT_EQ(all.status, 200) << all.raw.body;
  ASSERT_EQ(all.body["events"].size(), 3u);
  EXPECT_EQ(all.body["events"][0]["kind"], "scep");
  EXPECT_EQ(all.body["events"][0]["requester"], "192.0.2.7");
  EXPECT_EQ(all.body["events"][0]["transaction_id"], "tx");
  EXPECT_TRUE(all.body["events"][0]["duration_ms"].is_null());
  EXPECT_EQ(all.body["events"][2]["reason"], "revoked");
  EXPECT_EQ(all.body["events"][2]["duration_ms"], 12);
  // The MAC in another usual form, the serial with separators and lower case.
  Reply by_mac = call("GET", "/api/v1/events?mac=0200.5E10.0001&serial=6a:d6");
  ASSERT_EQ(by_mac.status, 200) << by_mac.raw.body;
  ASSERT_EQ(by_mac.body["events"].size(), 2u);
  Reply since = call("GET", "/api/v1/events?device=laptop-7&since=1h");
  ASSERT_EQ(since.body["events"].size(), 1u);
  EXPECT_EQ(since.body["events"][0]["reason"], "ok");
  Reply paged = call("GET", "/api/v1/events?kind=radius&limit=1&offset=1");
  ASSERT_EQ(paged.body["events"].size(), 1u);
  EXPECT_EQ(paged.body["events"][0]["reason"], "revoked");
  EXPECT_EQ(call("GET", "/api/v1/events?outcome=accept&nas=wlc-1").body["events"].size(), 1u);
  expect_refused("GET", "/api/v1/events?mac=02:00:5e:10:00", "", 400);
  expect_refused("GET", "/api/v1/events?kind=ldap", "", 400);
  expect_refused("GET", "/api/v1/events?since=yesterday", "", 400);
  expect_refused("GET", "/api/v1/events?devcie=x", "", 400);
  expect_refused("GET", "/api/v1/events?limit=0", "", 400);
  expect_refused("POST", "/api/v1/events", "{}", 405);
}

TEST_F(AdminApiTest, WhyExplainsTheLatestOutcomePerNasAndSsid) {
  Reply never = call("GET", "/api/v1/why/laptop-3");
  ASSERT_EQ(never.status, 200) << never.raw.body;
  EXPECT_EQ(never.body["verdict"], "never_seen");
  EXPECT_EQ(never.body["looked_up_as"], "device");

  const auto now = static_cast<ca::UnixTime>(std::time(nullptr));
  ca::Event accepted;
  accepted.at = now - 300;
  accepted.kind = "radius";
  accepted.outcome = "accept";
  accepted.reason = "ok";
  accepted.device = "laptop-3";
  accepted.mac = "02:00:5e:10:00:03";
  accepted.nas = "wlc-1";
  accepted.ssid = "corp";
  accepted.rule = "staff";
  accepted.serial = "AB";
  ca::Event disabled = accepted;
  disabled.at = now - 100;
  disabled.outcome = "reject";
  disabled.reason = "device_disabled";
  disabled.nas = "wlc-2";
  ca::Event older = disabled;   // the same NAS and SSID earlier: not the latest there
  older.at = now - 200;
  older.reason = "expired";
  ledger_->append_events({accepted, older, disabled});

  Reply why = call("GET", "/api/v1/why/02005E100003");
  ASSERT_EQ(why.status, 200) << why.raw.body;
  EXPECT_EQ(why.body["looked_up_as"], "mac");
  EXPECT_EQ(why.body["verdict"], "rejected");
  ASSERT_EQ(why.body["latest"].size(), 2u);
  EXPECT_EQ(why.body["latest"][0]["nas"], "wlc-2");
  EXPECT_EQ(why.body["latest"][0]["explanation"],
            "the device is disabled; to let it back in: `portcullis devices enable laptop-3`");
  EXPECT_EQ(why.body["latest"][1]["explanation"], "accepted (rule staff, certificate AB)");
  EXPECT_FALSE(why.body["latest"][0].contains("quiet"));   // minutes ago: not quiet
  EXPECT_TRUE(why.body["enrollment"].is_null());
  EXPECT_EQ(why.body["summary"],
            "On NAS wlc-2 (SSID corp) at " + app::admin::iso8601(now - 100) +
                ": the device is disabled; to let it back in: `portcullis devices enable laptop-3`. On NAS wlc-1 "
                "(SSID corp) at " + app::admin::iso8601(now - 300) + ": accepted (rule staff, certificate AB).");
  expect_refused("POST", "/api/v1/why/laptop-3", "{}", 405);
  expect_refused("GET", "/api/v1/why/laptop-3?x=1", "", 400);
}

TEST_F(AdminApiTest, WhySaysWhenADeviceWentQuietAndWhenItsNasLastAsked) {
  const auto now = static_cast<ca::UnixTime>(std::time(nullptr));
  const auto event = [](ca::UnixTime at, const std::string& device, const std::string& nas) {
    ca::Event e;
    e.at = at;
    e.kind = "radius";
    e.outcome = "accept";
    e.reason = "ok";
    e.rule = "default";
    e.device = device;
    e.nas = nas;
    return e;
  };
  ca::Event dropped;   // a datagram the NAS sent that was dropped is a request too
  dropped.at = now - 1800;
  dropped.kind = "nas";
  dropped.outcome = "drop";
  dropped.reason = "bad_message_authenticator";
  dropped.nas = "wlc-3";
  ledger_->append_events({event(now - 7200, "laptop-1", "wlc-1"), event(now - 60, "phone-2", "wlc-1"),
                          event(now - 7200, "laptop-4", "wlc-2"), event(now - 9000, "laptop-5", "wlc-3"), dropped});

  Reply quiet = call("GET", "/api/v1/why/laptop-1");
  ASSERT_EQ(quiet.status, 200) << quiet.raw.body;
  EXPECT_EQ(quiet.body["verdict"], "accepted");
  EXPECT_EQ(quiet.body["latest"][0]["nas_last_request"], app::admin::iso8601(now - 60));
  EXPECT_EQ(quiet.body["summary"],
            "On NAS wlc-1 at " + app::admin::iso8601(now - 7200) +
                ": accepted (rule default, its certificate). Nothing from the device since " +
                app::admin::iso8601(now - 7200) + ": the last request from its NAS wlc-1 was at " +
                app::admin::iso8601(now - 60) +
                ", so the device is not reaching it (out of range, switched off, or its Wi-Fi profile removed).");

  Reply nas_quiet = call("GET", "/api/v1/why/laptop-4");
  EXPECT_EQ(nas_quiet.body["latest"][0]["quiet"],
            "nothing from the device since " + app::admin::iso8601(now - 7200) +
                ", and nothing from its NAS wlc-2 either: check that wlc-2 still sends its requests to this server");
  EXPECT_EQ(nas_quiet.body["latest"][0]["nas_last_request"], app::admin::iso8601(now - 7200));

  Reply dropped_since = call("GET", "/api/v1/why/laptop-5");
  EXPECT_EQ(dropped_since.body["latest"][0]["nas_last_request"], app::admin::iso8601(now - 1800));

  Reply recent = call("GET", "/api/v1/why/phone-2");
  EXPECT_FALSE(recent.body["latest"][0].contains("quiet")) << recent.raw.body;
  EXPECT_EQ(recent.body["summary"].get<std::string>().find("Nothing"), std::string::npos);
}

TEST_F(AdminApiTest, WhyExplainsEnrollmentByDeviceOrTheCnItAskedFor) {
  const auto scep = [](ca::UnixTime at, const std::string& outcome, const std::string& reason,
                       const std::string& device, const std::string& cn) {
    ca::Event e;
    e.at = at;
    e.kind = "scep";
    e.outcome = outcome;
    e.reason = reason;
    e.device = device;
    e.cn = cn;
    e.nas_ip = "192.0.2.7";
    e.serial = outcome == "issued" ? "6AD6" : "";
    e.detail = "badRequest: " + reason;
    return e;
  };
  ledger_->append_events({scep(1700000000, "issued", "ok", "ipad-7", "ipad-7"),
                          scep(1700000100, "reject", "challenge_used", "ipad-7", "ipad-7"),
                          scep(1700000200, "reject", "challenge_wrong", "", "ipad-8"),
                          scep(1700000300, "pending", "ok", "ipad-9", "ipad-9")});

  Reply used = call("GET", "/api/v1/why/ipad-7");
  ASSERT_EQ(used.status, 200) << used.raw.body;
  EXPECT_EQ(used.body["verdict"], "rejected");
  EXPECT_EQ(used.body["enrollment"]["reason"], "challenge_used");
  EXPECT_EQ(used.body["summary"],
            "Enrollment (SCEP) at 2023-11-14T22:15:00Z from 192.0.2.7 for CN ipad-7: the challenge it sent was "
            "already used (each is good for one enrollment); mint a new one: `portcullis challenge --device ipad-7`.");
  // A wrong challenge names no device: found by the CN it asked for.
  Reply wrong = call("GET", "/api/v1/why/ipad-8");
  EXPECT_EQ(wrong.body["verdict"], "rejected");
  EXPECT_EQ(wrong.body["enrollment"]["explanation"],
            "the challenge it sent is not one this CA minted (mistyped, or from another server); mint a new one: "
            "`portcullis challenge --device ipad-8`");
  Reply pending = call("GET", "/api/v1/why/ipad-9");
  EXPECT_EQ(pending.body["verdict"], "pending");
  // By the serial it was issued: the issuance.
  Reply issued = call("GET", "/api/v1/why/6A:D6");
  EXPECT_EQ(issued.body["looked_up_as"], "serial");
  EXPECT_EQ(issued.body["verdict"], "accepted");
  EXPECT_EQ(issued.body["enrollment"]["explanation"], "certificate 6AD6 was issued to device ipad-7");
}

TEST_F(AdminApiTest, RadiusCounters) {
  Reply none = call("GET", "/api/v1/radius/counters");
  ASSERT_EQ(none.status, 200);
  EXPECT_TRUE(none.body["counters"].empty());  // no RADIUS front end in this fixture
  portcullis::radius::Counters counters;
  counters.unknown_nas = 3;
  app::AdminApi with(*registry_, *issuer_, {{"ops", sha256_hex(kToken)}}, &counters);
  app::HttpRequest r;
  r.method = "GET";
  r.target = r.path = "/api/v1/radius/counters";
  r.headers["authorization"] = std::string("Bearer ") + kToken;
  const json body = json::parse(with.handle(r).body);
  EXPECT_EQ(body["counters"]["unknown_nas"], 3);
  EXPECT_EQ(body["counters"]["access_accept"], 0);
}

TEST_F(AdminApiTest, ServiceCounters) {
  Reply none = call("GET", "/api/v1/service/counters");
  ASSERT_EQ(none.status, 200);
  EXPECT_TRUE(none.body["counters"].empty());  // nothing registered in this fixture
  std::uint64_t escaped = 2;
  app::AdminApi with(*registry_, *issuer_, {{"ops", sha256_hex(kToken)}});
  with.set_service_counters([&] { return std::vector<std::pair<std::string, std::uint64_t>>{{"handler_exceptions", escaped}}; });
  app::HttpRequest r;
  r.method = "GET";
  r.target = r.path = "/api/v1/service/counters";
  r.headers["authorization"] = std::string("Bearer ") + kToken;
  EXPECT_EQ(json::parse(with.handle(r).body)["counters"]["handler_exceptions"], 2);
  escaped = 5;  // read when asked, not copied at registration
  EXPECT_EQ(json::parse(with.handle(r).body)["counters"]["handler_exceptions"], 5);
  expect_refused("POST", "/api/v1/service/counters", "{}", 405);
}

// SCEP requests held for manual approval (RFC 8894 §3.3.2): list, approve, reject.
TEST_F(AdminApiTest, HeldScepRequestsAreListedApprovedAndRejected) {
  const auto hold = [&](const std::string& cn, const std::string& tx) {
    const ca::X509ReqPtr req = ca::csr_from_pem_or_der(make_csr(cn));
    ca::NewScepRequest held;
    held.transaction = {tx, std::string(64, 'a')};
    held.device_name = cn;
    held.create_device = true;
    held.profile = "device";
    held.subject = "CN=" + cn;
    held.csr_der = ca::to_der(req.get(), i2d_X509_REQ, "i2d_X509_REQ");
    return ledger_->create_scep_request(held, "scep").id;
  };
  const std::int64_t yes = hold("held-yes", "tx-yes");
  const std::int64_t no = hold("held-no", "tx-no");

  Reply listed = call("GET", "/api/v1/requests");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body["requests"].size(), 2u);
  EXPECT_EQ(listed.body["requests"][0]["status"], "pending");
  EXPECT_TRUE(listed.body["requests"][0]["serial"].is_null());
  EXPECT_EQ(call("GET", "/api/v1/requests?status=bogus").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/requests?state=pending").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/requests/abc/approve").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/requests/999/approve").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/requests/1/approve").status, 405);

  Reply approved = call("POST", "/api/v1/requests/" + std::to_string(yes) + "/approve");
  ASSERT_EQ(approved.status, 200) << approved.body.dump();
  EXPECT_EQ(approved.body["request"]["status"], "approved");
  EXPECT_EQ(approved.body["request"]["decided_by"], "api:ops");
  EXPECT_EQ(approved.body["certificate"].get<std::string>().rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  EXPECT_TRUE(ledger_->find_certificate(approved.body["request"]["serial"].get<std::string>()));
  EXPECT_EQ(call("POST", "/api/v1/requests/" + std::to_string(yes) + "/approve").status, 409);

  Reply rejected = call("POST", "/api/v1/requests/" + std::to_string(no) + "/reject", R"({"reason":"unknown"})",
                        kCiToken);
  ASSERT_EQ(rejected.status, 200) << rejected.body.dump();
  EXPECT_EQ(rejected.body["request"]["status"], "rejected");
  EXPECT_EQ(rejected.body["request"]["reason"], "unknown");
  EXPECT_EQ(call("POST", "/api/v1/requests/" + std::to_string(no) + "/approve").status, 409);
  EXPECT_EQ(ledger_->certificate_count(), 1u);

  EXPECT_TRUE(call("GET", "/api/v1/requests").body["requests"].empty());
  EXPECT_EQ(call("GET", "/api/v1/requests?status=all").body["requests"].size(), 2u);
  Reply audit = call("GET", "/api/v1/audit?action=scep.reject");
  ASSERT_EQ(audit.body["entries"].size(), 1u);
  EXPECT_EQ(audit.body["entries"][0]["actor"], "api:ci");
  EXPECT_EQ(call("GET", "/api/v1/audit?action=scep.approve").body["entries"].size(), 1u);
}

// GET /policy lists the rules in order with their counters; POST /policy/reload re-reads
// the configured file: 200 with the rule count, or 422 with its file:line (old rules kept).
TEST_F(AdminApiTest, PolicyRulesCountersAndReload) {
  EXPECT_EQ(call("GET", "/api/v1/policy").status, 404);  // no engine wired
  auto engine = app::make_policy_engine();
  const std::string file = dir_ + "/policy.toml";
  std::ofstream(file) << "[[rule]]\nname = \"staff\"\ndevice_groups = [\"staff\"]\nvlan = 20\n";
  api_->set_policy(app::PolicyControl{engine.get(), file});

  auto reload = call("POST", "/api/v1/policy/reload");
  ASSERT_EQ(reload.status, 200) << reload.raw.body;
  EXPECT_EQ(reload.body["rules"], 1);
  portcullis::policy::AccessContext ctx;
  ctx.device_groups = {"staff"};
  engine->decide(ctx);
  auto shown = call("GET", "/api/v1/policy");
  ASSERT_EQ(shown.status, 200);
  EXPECT_EQ(shown.body["origin"], file);
  ASSERT_EQ(shown.body["rules"].size(), 1u);
  EXPECT_EQ(shown.body["rules"][0]["name"], "staff");
  EXPECT_EQ(shown.body["rules"][0]["line"], 1);
  EXPECT_EQ(shown.body["rules"][0]["matches"], 1);
  EXPECT_EQ(shown.body["default_matches"], 0);

  std::ofstream(file) << "[[rule]]\nname = \"staff\"\nvlan = \"\"\n";
  auto refused = call("POST", "/api/v1/policy/reload");
  EXPECT_EQ(refused.status, 422);
  EXPECT_EQ(refused.body["error"], file + ":3: rule 'staff': vlan must not be empty");
  EXPECT_EQ(call("GET", "/api/v1/policy").body["rules"][0]["matches"], 1);  // the old rules still run
  EXPECT_EQ(call("POST", "/api/v1/policy/reload", "{\"x\":1}").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/policy/reload").status, 405);
  EXPECT_EQ(call("DELETE", "/api/v1/policy").status, 405);
  const auto audit = call("GET", "/api/v1/audit?action=policy.reload");
  ASSERT_EQ(audit.body["entries"].size(), 2u);
  EXPECT_EQ(audit.body["entries"][0]["detail"].get<std::string>().rfind("refused: ", 0), 0u);
  EXPECT_EQ(audit.body["entries"][0]["actor"], "api:ops");
}

}  // namespace
