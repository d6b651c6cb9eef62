// The ledger against a real database, on both backends (an SQLite file and a PostgreSQL
// database): round-trips, filters, constraints, rollback, the append-only audit log and
// concurrent issuance. Then what is particular to each: SQLite's file and migrations,
// PostgreSQL's schema, url and concurrent start.
#include "ca/ledger/ledger.hpp"
#include "ca/ledger/postgres_schema.hpp"
#include "ca/ledger/schema.hpp"
#include "ca/ledger/sqlite_db.hpp"
#include "ledger_backend.hpp"
#include "ledger_fixtures.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

namespace portcullis::ca {
namespace {

using testing::audit_where;
using testing::backend_name;
using testing::LedgerBackend;
using testing::LedgerBackendKind;
using testing::certs_where;
using testing::device_id_ref;
using testing::device_name_ref;
using testing::devices_where;
using testing::make_record;
using testing::random_hex;
using testing::TempDir;

class LedgerTest : public ::testing::TestWithParam<LedgerBackendKind> {
 protected:
  LedgerBackend backend{GetParam()};  // first: the ledger lives there
  std::unique_ptr<Ledger> ledger = backend.open();

  std::size_t audit_rows() { return ledger->audit(audit_where({}, {}, 100000)).size(); }
  std::int64_t raw_count(const char* sql) { return backend.raw_int64(sql); }
  Device device(const std::string& name, std::vector<std::string> groups = {}) {
    return ledger->create_device({name, "Display " + name, "owner@example.org", std::move(groups)}, "test");
  }
  CertificateRecord issue(std::int64_t device_id, CertificateRecord r = make_record()) {
    ledger->record_issuance(device_id_ref(device_id), r, "test");
    r.device_id = device_id;
    return r;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, LedgerTest,
                         ::testing::Values(LedgerBackendKind::sqlite, LedgerBackendKind::postgresql), backend_name);

TEST(SqliteLedgerFile, NewFileIsPrivateWalAndAtLatestVersion) {
  TempDir dir;
  const std::string path = dir.file("ledger.db");
  auto ledger = open_sqlite_ledger(path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto db = sqlite::Connection::open(path, false);
  auto mode = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.column_text(0), "wal");
  EXPECT_EQ(sqlite::schema_version(db), sqlite::latest_schema_version());
  EXPECT_EQ(ledger->integrity_check(), "ok");
}

TEST_P(LedgerTest, DeviceRoundTripWithGroups) {
  const Device created = device("laptop-17", {"staff", "eng", "staff"});
  EXPECT_GT(created.id, 0);
  EXPECT_TRUE(created.enabled);
  EXPECT_EQ(created.groups, (std::vector<std::string>{"eng", "staff"}));
  for (const auto& found : {ledger->find_device(created.id), ledger->find_device_by_name("laptop-17")}) {
    ASSERT_TRUE(found);
    EXPECT_EQ(found->id, created.id);
    EXPECT_EQ(found->name, "laptop-17");
    EXPECT_EQ(found->display_name, "Display laptop-17");
    EXPECT_EQ(found->owner, "owner@example.org");
    EXPECT_EQ(found->groups, created.groups);
    EXPECT_EQ(found->created_at, created.created_at);
  }
  EXPECT_FALSE(ledger->find_device(created.id + 1));
  EXPECT_FALSE(ledger->find_device_by_name("LAPTOP-17"));
  const auto audit = ledger->audit(audit_where("laptop-17"));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "device.create");
  EXPECT_EQ(audit[0].actor, "test");
}

TEST_P(LedgerTest, DuplicateOrInvalidDeviceNameIsAConflictAndWritesNothing) {
  device("printer");
  const auto before = audit_rows();
  EXPECT_THROW(device("printer"), LedgerConflict);
  EXPECT_THROW(device(""), LedgerConflict);
  EXPECT_THROW(device("line\nbreak"), LedgerConflict);
  EXPECT_THROW(device(std::string(256, 'a')), LedgerConflict);
  EXPECT_EQ(audit_rows(), before);
  EXPECT_EQ(ledger->list_devices(devices_where("")).size(), 1u);
}

// The metrics' ledger_commit_seconds: each committed write transaction is timed, a
// refused one (rolled back) is not.
TEST_P(LedgerTest, CommitObserverIsToldEachCommittedTransaction) {
  struct Recorder : CommitObserver {
    void committed(std::chrono::nanoseconds took) noexcept override { times.push_back(took); }
    std::vector<std::chrono::nanoseconds> times;
  } recorder;
  ledger.reset();
  ledger = backend.open(&recorder);
  const Device d = device("observed");
  ASSERT_EQ(recorder.times.size(), 1u);
  EXPECT_GT(recorder.times[0].count(), 0);
  issue(d.id);
  EXPECT_EQ(recorder.times.size(), 2u);  // the group commit's transaction too
  EXPECT_THROW(device("observed"), LedgerConflict);
  EXPECT_EQ(recorder.times.size(), 2u);
  ledger.reset();  // before the recorder goes
}

TEST_P(LedgerTest, SqlMetacharactersRoundTripAndNeverInject) {
  const std::vector<std::string> names = {"Robert'); DROP TABLE devices;--", "quote\"d", "100%_off\\x", "a' OR '1'='1",
                                          "semi;colon", "naïve-ünïcode"};
  for (const auto& n : names) device(n, {"g'; DELETE FROM device_groups;--"});
  for (const auto& n : names) {
    const auto found = ledger->find_device_by_name(n);
    ASSERT_TRUE(found) << n;
    EXPECT_EQ(found->name, n);
    EXPECT_EQ(found->groups, std::vector<std::string>{"g'; DELETE FROM device_groups;--"});
  }
  EXPECT_FALSE(ledger->find_device_by_name("a"));
  EXPECT_EQ(ledger->list_devices(devices_where("")).size(), names.size());
  // % and _ in a search are literal characters, not wildcards.
  auto hits = ledger->list_devices(devices_where("%"));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].name, "100%_off\\x");
  EXPECT_EQ(ledger->list_devices(devices_where("_")).size(), 1u);
  EXPECT_EQ(ledger->list_devices(devices_where("\\")).size(), 1u);
  EXPECT_EQ(ledger->list_devices(devices_where("'")).size(), 2u);
  EXPECT_EQ(ledger->integrity_check(), "ok");
}

TEST_P(LedgerTest, ListDevicesSearchesNameDisplayNameOwnerAndFiltersEnabled) {
  const Device a = device("alpha");
  ledger->create_device({"beta", "Reception iPad", "carol@example.org", {}}, "test");
  const Device c = device("gamma");
  ledger->set_device_enabled(c.id, false, "test");
  EXPECT_EQ(ledger->list_devices(devices_where("RECEPTION")).size(), 1u);  // case-insensitive for ASCII
  EXPECT_EQ(ledger->list_devices(devices_where("carol")).size(), 1u);
  EXPECT_EQ(ledger->list_devices(devices_where("a")).size(), 3u);
  EXPECT_EQ(ledger->list_devices(devices_where("", false)).size(), 1u);
  EXPECT_EQ(ledger->list_devices(devices_where("", true)).size(), 2u);
  const auto page = ledger->list_devices(devices_where("", {}, 1, 1));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].name, "beta");
  EXPECT_EQ(ledger->list_devices(devices_where("", {}, 10))[0].id, a.id);
}

TEST_P(LedgerTest, EnableDisableIsAuditedOnlyWhenItChanges) {
  const Device d = device("phone");
  EXPECT_FALSE(ledger->set_device_enabled(d.id, false, "admin").enabled);
  EXPECT_FALSE(ledger->find_device(d.id)->enabled);
  ledger->set_device_enabled(d.id, false, "admin");  // already disabled: no new row
  EXPECT_TRUE(ledger->set_device_enabled(d.id, true, "admin").enabled);
  const auto audit = ledger->audit(audit_where("phone"));
  ASSERT_EQ(audit.size(), 3u);  // newest first
  EXPECT_EQ(audit[0].action, "device.enable");
  EXPECT_EQ(audit[1].action, "device.disable");
  EXPECT_EQ(audit[1].actor, "admin");
  EXPECT_THROW(ledger->set_device_enabled(9999, false, "admin"), LedgerNotFound);
}

TEST_P(LedgerTest, IssuanceRoundTripsEveryField) {
  const Device d = device("tablet");
  CertificateRecord r = make_record("0A1B2C3D4E5F60718293A4B5C6D7E8F9");
  r.sans = {"DNS:tablet.example", "URI:urn:x:\"quoted\"\\back", "email:ü@example.org", "odd\nline"};
  const auto outcome = ledger->record_issuance(device_id_ref(d.id), r, "scep");
  EXPECT_FALSE(outcome.device_created);
  EXPECT_EQ(outcome.device.id, d.id);
  // Serials are matched in any case and with leading zeros.
  for (const char* form : {"0A1B2C3D4E5F60718293A4B5C6D7E8F9", "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "000A1B2C3D4E5F60718293A4B5C6D7E8F9"}) {
    const auto found = ledger->find_certificate(form);
    ASSERT_TRUE(found) << form;
    EXPECT_EQ(found->serial_hex, r.serial_hex);
    EXPECT_EQ(found->device_id, d.id);
    EXPECT_EQ(found->profile, r.profile);
    EXPECT_EQ(found->subject, r.subject);
    EXPECT_EQ(found->sans, r.sans);
    EXPECT_EQ(found->sha256_fingerprint, r.sha256_fingerprint);
    EXPECT_EQ(found->not_before, r.not_before);
    EXPECT_EQ(found->not_after, r.not_after);
    EXPECT_EQ(found->issued_at, r.issued_at);
    EXPECT_FALSE(found->revoked);
    EXPECT_EQ(found->der, r.der);
  }
  EXPECT_FALSE(ledger->find_certificate("0A1B"));
  EXPECT_FALSE(ledger->find_certificate("not hex'; --"));
  const auto audit = ledger->audit(audit_where(r.serial_hex));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "issue");
  EXPECT_EQ(audit[0].actor, "scep");
  EXPECT_EQ(audit[0].detail.find("30820100"), std::string::npos);  // never the DER
  EXPECT_EQ(ledger->certificate_count(), 1u);
}

TEST_P(LedgerTest, IssuanceCreatesTheDeviceOnlyWhenAsked) {
  const auto r = make_record();
  EXPECT_THROW(ledger->record_issuance(device_name_ref("new-box"), r, "cli"), LedgerNotFound);
  EXPECT_THROW(ledger->record_issuance(device_id_ref(4242), r, "cli"), LedgerNotFound);
  EXPECT_EQ(audit_rows(), 0u);
  const auto outcome = ledger->record_issuance(device_name_ref("new-box", true), r, "cli");
  EXPECT_TRUE(outcome.device_created);
  EXPECT_EQ(outcome.device.name, "new-box");
  EXPECT_EQ(ledger->find_certificate(r.serial_hex)->device_id, outcome.device.id);
  EXPECT_EQ(ledger->audit(audit_where({}, "device.create")).size(), 1u);
  EXPECT_EQ(ledger->audit(audit_where({}, "issue")).size(), 1u);
  const auto again = ledger->record_issuance(device_name_ref("new-box", true), make_record(), "cli");
  EXPECT_FALSE(again.device_created);
  EXPECT_EQ(again.device.id, outcome.device.id);
}

TEST_P(LedgerTest, DisabledDeviceIsRefusedAndNothingIsWritten) {
  const Device d = device("stolen");
  ledger->set_device_enabled(d.id, false, "admin");
  const auto rows = audit_rows();
  EXPECT_THROW(ledger->record_issuance(device_id_ref(d.id), make_record(), "scep"), LedgerConflict);
  EXPECT_THROW(ledger->record_issuance(device_name_ref("stolen", true), make_record(), "scep"),
               LedgerConflict);
  EXPECT_EQ(ledger->certificate_count(), 0u);
  EXPECT_EQ(audit_rows(), rows);
  EXPECT_EQ(raw_count("SELECT count(*) FROM certificates"), 0);
}

TEST_P(LedgerTest, DuplicateSerialRollsBackTheWholeTransaction) {
  const Device d = device("first");
  const auto r = make_record();
  issue(d.id, r);
  auto clash = make_record(r.serial_hex);
  EXPECT_THROW(ledger->record_issuance(device_id_ref(d.id), clash, "scep"), DuplicateSerial);
  clash.serial_hex = "00" + r.serial_hex;  // the same number, written differently
  EXPECT_THROW(ledger->record_issuance(device_id_ref(d.id), clash, "scep"), DuplicateSerial);
  // The device this call would have created is rolled back with the failed insert.
  const auto rows = audit_rows();
  EXPECT_THROW(ledger->record_issuance(device_name_ref("ghost", true), clash, "scep"), DuplicateSerial);
  EXPECT_FALSE(ledger->find_device_by_name("ghost"));
  EXPECT_EQ(audit_rows(), rows);
  EXPECT_EQ(raw_count("SELECT count(*) FROM devices"), 1);
  EXPECT_EQ(ledger->certificate_count(), 1u);
}

TEST_P(LedgerTest, DuplicateFingerprintAndMalformedRecordsAreRefused) {
  const Device d = device("dev");
  const auto r = make_record();
  issue(d.id, r);
  auto same_fp = make_record();
  same_fp.sha256_fingerprint = r.sha256_fingerprint;
  EXPECT_THROW(ledger->record_issuance(device_id_ref(d.id), same_fp, "t"), LedgerConflict);
  auto bad = make_record();
  bad.serial_hex = "12G4";
  EXPECT_THROW(ledger->record_issuance(device_id_ref(d.id), bad, "t"), LedgerConflict);
  bad = make_record(std::string(42, 'A'));  // 21 octets: longer than RFC 5280 allows
  EXPECT_THROW(ledger->record_issuance(device_id_ref(d.id), bad, "t"), LedgerConflict);
  bad = make_record();
  bad.sha256_fingerprint = "AB";
  EXPECT_THROW(ledger->record_issuance(device_id_ref(d.id), bad, "t"), LedgerConflict);
  EXPECT_THROW(ledger->record_issuance([&] { auto ref = device_id_ref(d.id); ref.name = "dev"; return ref; }(), make_record(), "t"), LedgerConflict);
  EXPECT_THROW(ledger->record_issuance(DeviceRef{}, make_record(), "t"), LedgerConflict);
  EXPECT_EQ(ledger->certificate_count(), 1u);
}

TEST_P(LedgerTest, ListCertificatesFiltersAndOrders) {
  const Device a = device("a");
  const Device b = device("b");
  const UnixTime now = 1'700'000'000;
  auto valid1 = make_record("11", now - 100, now + 1000);
  valid1.issued_at = now - 50;
  auto valid2 = make_record("10", now - 100, now + 5000);
  valid2.issued_at = now - 50;  // same issued_at: ordered by serial
  auto expired = make_record("20", now - 5000, now - 1);
  expired.issued_at = now - 5000;
  auto revoked = make_record("30", now - 100, now + 100);
  revoked.issued_at = now - 10;
  auto boundary = make_record("40", now - 100, now);  // notAfter is inclusive: still valid at `now`
  boundary.issued_at = now - 1;
  for (const auto* r : {&valid1, &valid2, &expired, &revoked}) issue(a.id, *r);
  issue(b.id, boundary);
  ledger->revoke("30", RevocationReason::superseded, now - 5, "admin");

  const auto serials = [&](CertificateFilter f) {
    f.now = now;
    std::vector<std::string> out;
    for (const auto& c : ledger->list_certificates(f)) out.push_back(c.serial_hex);
    return out;
  };
  EXPECT_EQ(serials(certs_where({})), (std::vector<std::string>{"20", "10", "11", "30", "40"}));
  EXPECT_EQ(serials(certs_where(b.id)), std::vector<std::string>{"40"});
  EXPECT_EQ(serials(certs_where({}, "valid")), (std::vector<std::string>{"10", "11", "40"}));
  EXPECT_EQ(serials(certs_where({}, "expired")), std::vector<std::string>{"20"});
  EXPECT_EQ(serials(certs_where({}, "revoked")), std::vector<std::string>{"30"});
  EXPECT_EQ(serials(certs_where(a.id, "valid")), (std::vector<std::string>{"10", "11"}));
  EXPECT_EQ(serials(certs_where({}, {}, now + 2000)), (std::vector<std::string>{"20", "11", "30", "40"}));
  EXPECT_EQ(serials(certs_where({}, "valid", now + 2000)), (std::vector<std::string>{"11", "40"}));
  EXPECT_EQ(serials(certs_where({}, {}, {}, 2, 1)), (std::vector<std::string>{"10", "11"}));
  EXPECT_THROW(ledger->list_certificates(certs_where({}, "bogus")), LedgerConflict);
  // not_after_from bounds from below (inclusive): certificates that expired recently.
  auto recent = certs_where({}, "expired");
  recent.not_after_from = now - 1;
  EXPECT_EQ(serials(recent), std::vector<std::string>{"20"});
  recent.not_after_from = now;
  EXPECT_TRUE(serials(recent).empty());
  auto window = certs_where({});
  window.not_after_from = now + 100;
  window.expiring_before = now + 2000;
  EXPECT_EQ(serials(window), (std::vector<std::string>{"11", "30"}));
}

TEST_P(LedgerTest, RevokeKeepsTheFirstTimeAndReason) {
  const Device d = device("r");
  const auto r = issue(d.id);
  const auto first = ledger->revoke(r.serial_hex, RevocationReason::key_compromise, 5000, "admin");
  EXPECT_TRUE(first.changed);
  EXPECT_TRUE(first.certificate.revoked);
  EXPECT_EQ(first.certificate.revoked_at, 5000);
  EXPECT_EQ(first.certificate.der, r.der);
  const auto second = ledger->revoke(r.serial_hex, RevocationReason::superseded, 9000, "admin");
  EXPECT_FALSE(second.changed);
  EXPECT_EQ(second.certificate.revoked_at, 5000);
  EXPECT_EQ(second.certificate.revocation_reason, RevocationReason::key_compromise);
  const auto stored = ledger->find_certificate(r.serial_hex);
  EXPECT_EQ(stored->revocation_reason, RevocationReason::key_compromise);
  EXPECT_EQ(ledger->audit(audit_where({}, "revoke")).size(), 1u);
  const auto crl = ledger->revoked_certificates();
  ASSERT_EQ(crl.size(), 1u);
  EXPECT_EQ(crl[0].serial_hex, r.serial_hex);
  EXPECT_EQ(crl[0].revoked_at, 5000);
  EXPECT_EQ(crl[0].reason, RevocationReason::key_compromise);
  EXPECT_THROW(ledger->revoke("ABCDEF", RevocationReason::unspecified, 1, "admin"), LedgerNotFound);
  EXPECT_THROW(ledger->revoke("zz", RevocationReason::unspecified, 1, "admin"), LedgerNotFound);
}

TEST_P(LedgerTest, RevokeDeviceRevokesEveryUnrevokedCertificateOnce) {
  const Device d = device("fleet");
  const Device other = device("other");
  const auto c1 = issue(d.id);
  const auto c2 = issue(d.id);
  const auto c3 = issue(d.id);
  const auto untouched = issue(other.id);
  ledger->revoke(c2.serial_hex, RevocationReason::superseded, 100, "admin");
  const auto revoked = ledger->revoke_device(d.id, RevocationReason::privilege_withdrawn, 200, "admin");
  std::set<std::string> serials;
  for (const auto& c : revoked) {
    serials.insert(c.serial_hex);
    EXPECT_TRUE(c.revoked);
    EXPECT_EQ(c.revoked_at, 200);
    EXPECT_EQ(c.revocation_reason, RevocationReason::privilege_withdrawn);
  }
  EXPECT_EQ(serials, (std::set<std::string>{c1.serial_hex, c3.serial_hex}));
  EXPECT_EQ(ledger->find_certificate(c2.serial_hex)->revocation_reason, RevocationReason::superseded);
  EXPECT_FALSE(ledger->find_certificate(untouched.serial_hex)->revoked);
  EXPECT_TRUE(ledger->revoke_device(d.id, RevocationReason::unspecified, 300, "admin").empty());
  EXPECT_EQ(ledger->revoked_certificates().size(), 3u);
  EXPECT_THROW(ledger->revoke_device(12345, RevocationReason::unspecified, 1, "admin"), LedgerNotFound);
}

TEST_P(LedgerTest, CrlNumbersIncreaseAndSurviveReopening) {
  EXPECT_EQ(ledger->next_crl_number(), 1);
  EXPECT_EQ(ledger->next_crl_number(), 2);
  ledger.reset();
  ledger = backend.open();
  EXPECT_EQ(ledger->next_crl_number(), 3);
}

TEST_P(LedgerTest, AuditIsAppendOnlyAndFilterable) {
  ledger->append_audit({0, 10, "alice", "challenge.mint", "dev-1", "profile=device"});
  ledger->append_audit({0, 11, "bob", "challenge.mint", "dev-2", ""});
  ledger->append_audit({0, 0, "", "note", "dev-1", "x"});
  EXPECT_THROW(ledger->append_audit({0, 0, "x", "", "", ""}), LedgerConflict);
  const auto all = ledger->audit(audit_where({}));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].action, "note");  // newest first
  EXPECT_EQ(all[0].actor, "system");
  EXPECT_GT(all[0].at, 1'600'000'000);
  EXPECT_EQ(ledger->audit(audit_where("dev-1")).size(), 2u);
  EXPECT_EQ(ledger->audit(audit_where("dev-1", "note")).size(), 1u);
  EXPECT_EQ(ledger->audit(audit_where({}, {}, 1)).size(), 1u);

  for (const char* sql : {"UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"}) {
    try {
      backend.raw_exec(sql);
      FAIL() << sql << " succeeded";
    } catch (const LedgerError& e) {
      EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(ledger->audit(audit_where({})).size(), 3u);
  EXPECT_EQ(ledger->audit(audit_where({}))[2].actor, "alice");
}

// Refused SCEP requests: a bounded ring in the audit log (schema v7), the only rows that
// may be deleted, and only through append_refusals.
TEST_P(LedgerTest, RefusalRowsAreBoundedAndNothingElseIsPruned) {
  const auto refusal = [](int i) {
    return AuditEntry{0, 100 + i, kRefusalActor, kRefusalAction, "cn", "n=" + std::to_string(i)};
  };
  ledger->append_audit({0, 10, "api:ops", "scep.reject", "held-1", "request=1"});   // an operator's rejection
  EXPECT_THROW(ledger->append_audit(refusal(0)), LedgerConflict);
  EXPECT_THROW(ledger->append_refusals({refusal(0), {0, 1, "cli", "device.create", "x", ""}}, 10), LedgerConflict);
  EXPECT_EQ(ledger->audit(audit_where({})).size(), 1u);   // nothing of the refused batch

  for (int batch = 0; batch < 4; ++batch) {
    std::vector<AuditEntry> rows;
    for (int i = 0; i < 3; ++i) rows.push_back(refusal(batch * 3 + i));
    ledger->append_refusals(rows, 5);
  }
  ledger->append_refusals({{0, 200, kRefusalActor, kRefusalSummaryAction, "192.0.2.1", "suppressed 9"}}, 5);
  const auto all = ledger->audit(audit_where({}, {}, 100));
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].action, kRefusalSummaryAction);   // the newest five refusal rows…
  EXPECT_EQ(all[1].detail, "n=11");
  EXPECT_EQ(all[4].detail, "n=8");
  EXPECT_EQ(all[5].actor, "api:ops");                // …and the operator's row
  EXPECT_EQ(raw_count("SELECT value FROM meta WHERE key = 'scep_refusal_rows'"), 5);

  // A larger bound keeps more from now on; reopening keeps the count.
  ledger.reset();
  ledger = backend.open();
  ledger->append_refusals({refusal(20), refusal(21)}, 100);
  EXPECT_EQ(ledger->audit(audit_where({}, kRefusalAction, 100)).size(), 7u);   // 6 refusals, the operator's
  EXPECT_EQ(raw_count("SELECT value FROM meta WHERE key = 'scep_refusal_rows'"), 7);
  EXPECT_THROW(backend.raw_exec("DELETE FROM audit WHERE actor = 'api:ops'"), LedgerError);
}

TEST_P(LedgerTest, ReopeningKeepsEverything) {
  const Device d = device("keeper", {"g1"});
  const auto r = issue(d.id);
  ledger->revoke(r.serial_hex, RevocationReason::cessation_of_operation, 77, "admin");
  ledger.reset();
  ledger = backend.open();
  const auto found = ledger->find_device_by_name("keeper");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->groups, std::vector<std::string>{"g1"});
  const auto cert = ledger->find_certificate(r.serial_hex);
  ASSERT_TRUE(cert);
  EXPECT_EQ(cert->revocation_reason, RevocationReason::cessation_of_operation);
  EXPECT_EQ(cert->der, r.der);
  EXPECT_EQ(ledger->audit(audit_where({})).size(), 3u);
}

TEST_P(LedgerTest, BulkReadersSkipDerAndCarryGroups) {
  const Device a = device("a", {"x", "y"});
  const Device b = device("b");
  issue(a.id);
  issue(b.id);
  std::size_t certs = 0;
  ledger->for_each_certificate([&](const CertificateRecord& c) {
    ++certs;
    EXPECT_TRUE(c.der.empty());
    EXPECT_FALSE(c.sha256_fingerprint.empty());
    EXPECT_EQ(c.sans.size(), 2u);
  });
  EXPECT_EQ(certs, 2u);
  std::vector<Device> devices;
  ledger->for_each_device([&](const Device& d) { devices.push_back(d); });
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0].groups, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(devices[1].groups.empty());
}

TEST_P(LedgerTest, ConcurrentIssuanceFromEightThreads) {
  const Device d = device("busy");
  constexpr int kThreads = 8;
  constexpr int kEach = 250;
  std::vector<std::vector<std::string>> issued(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        for (;;) {  // what the issuer does on DuplicateSerial: draw again
          auto r = make_record();
          try {
            ledger->record_issuance(device_id_ref(d.id), r, "load");
            issued[static_cast<std::size_t>(t)].push_back(r.serial_hex);
            break;
          } catch (const DuplicateSerial&) {
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> distinct;
  for (const auto& v : issued) distinct.insert(v.begin(), v.end());
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(ledger->certificate_count(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(raw_count("SELECT count(DISTINCT serial) FROM certificates"), kThreads * kEach);
  EXPECT_EQ(ledger->audit(audit_where({}, "issue", 10000)).size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(ledger->integrity_check(), "ok");
}

TEST_P(LedgerTest, SansStoredByTheEarlierEncoderReadBack) {
  const CertificateRecord r = issue(device("old-row").id);
  backend.raw_exec(R"(UPDATE certificates SET sans = '["DNS:a.example","odd\u000aline","q\"\\"]')");
  const auto found = ledger->find_certificate(r.serial_hex);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->sans, (std::vector<std::string>{"DNS:a.example", "odd\nline", "q\"\\"}));
}

TEST(LedgerSchema, UpgradesAnOlderLedger) {
  TempDir dir;
  const std::string path = dir.file("old.db");
  {
    auto db = sqlite::Connection::open(path, true);
    sqlite::migrate(db, 1);
    ASSERT_EQ(sqlite::schema_version(db), 1);
    db.exec("INSERT INTO devices (name, created_at) VALUES ('from-v1', 1)");
    EXPECT_THROW(db.exec("SELECT count(*) FROM challenges"), sqlite::SqliteError);
  }
  auto ledger = open_sqlite_ledger(path);
  ASSERT_TRUE(ledger->find_device_by_name("from-v1"));
  auto db = sqlite::Connection::open(path, false);
  EXPECT_EQ(sqlite::schema_version(db), sqlite::latest_schema_version());
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM challenges"), 0);
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM radius_sessions"), 0);
  EXPECT_EQ(db.query_int64("SELECT value FROM meta WHERE key = 'scep_refusal_rows'"), 0);
  // Running the migrations again is a no-op.
  sqlite::migrate(db);
  EXPECT_EQ(sqlite::schema_version(db), sqlite::latest_schema_version());
}

TEST(LedgerSchema, Version6CountsTheRefusalRowsAlreadyThere) {
  TempDir dir;
  const std::string path = dir.file("v5.db");
  {
    auto db = sqlite::Connection::open(path, true);
    sqlite::migrate(db, 5);
    db.exec("INSERT INTO audit (at, actor, action) VALUES (1, 'scep', 'scep.reject'), (2, 'scep', 'scep.reject'), "
            "(3, 'api:ops', 'scep.reject'), (4, 'scep', 'scep.pending')");
  }
  auto ledger = open_sqlite_ledger(path);
  ledger->append_refusals({{0, 5, kRefusalActor, kRefusalAction, "cn", "new"}}, 1);
  auto db = sqlite::Connection::open(path, false);
  EXPECT_EQ(db.query_int64("SELECT value FROM meta WHERE key = 'scep_refusal_rows'"), 1);
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM audit WHERE actor = 'scep' AND action = 'scep.reject'"), 1);
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM audit"), 3);   // the operator's and the pending row stay
}

TEST(LedgerSchema, RefusesALedgerFromANewerPortcullis) {
  TempDir dir;
  const std::string path = dir.file("future.db");
  open_sqlite_ledger(path).reset();
  {
    auto db = sqlite::Connection::open(path, false);
    db.exec("PRAGMA user_version = 999");
  }
  try {
    open_sqlite_ledger(path);
    FAIL() << "a newer ledger was opened";
  } catch (const LedgerError& e) {
    const std::string expected = "ledger schema version 999 is newer than this portcullis supports (" +
                                 std::to_string(sqlite::latest_schema_version()) + "); upgrade portcullis";
    EXPECT_EQ(e.what(), expected);
  }
  auto db = sqlite::Connection::open(path, false);
  EXPECT_EQ(sqlite::schema_version(db), 999);  // untouched
}

TEST(LedgerSchema, MissingDirectoryIsAClearError) {
  try {
    open_sqlite_ledger("/nonexistent-portcullis-dir/ledger.db");
    FAIL();
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-portcullis-dir/ledger.db"), std::string::npos);
  }
}

// A disk with no room left (here: the page budget SQLite may use) is its own error, the
// transaction leaves nothing behind, and the same write succeeds once there is room again.
TEST(SqliteConnection, ADiskWithNoRoomLeftIsLedgerFullAndRecoversWithoutReopening) {
  TempDir dir;
  auto db = sqlite::Connection::open(dir.file("full.db"), true);
  db.exec("CREATE TABLE t (v BLOB NOT NULL)");
  const std::int64_t pages = db.query_int64("PRAGMA page_count");
  db.exec(("PRAGMA max_page_count = " + std::to_string(pages)).c_str());
  const std::string big(64 * 1024, 'x');
  auto insert = [&] {
    sqlite::Transaction tx(db);
    db.prepare("INSERT INTO t (v) VALUES (?1)").bind(1, big).step();
    tx.commit();
  };
  EXPECT_THROW(insert(), LedgerFull);
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM t"), 0);
  db.exec(("PRAGMA max_page_count = " + std::to_string(pages + 1000)).c_str());
  insert();
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM t"), 1);
}

// --- PostgreSQL only ---------------------------------------------------------------------

// The column lists of every table, in order, as each backend reports them.
std::map<std::string, std::vector<std::string>> sqlite_tables(const std::string& path) {
  auto db = sqlite::Connection::open(path, false);
  std::map<std::string, std::vector<std::string>> tables;
  auto names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  while (names.step()) {
    const std::string table = names.column_text(0);
    auto columns = db.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid");
    columns.bind(1, table);
    while (columns.step()) tables[table].push_back(columns.column_text(0));
  }
  return tables;
}

std::map<std::string, std::vector<std::string>> postgres_tables(const LedgerBackend& backend) {
  auto db = postgres::Connection::open(backend.connect_options());
  const auto r = db.exec(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
      "ORDER BY table_name, ordinal_position");
  std::map<std::string, std::vector<std::string>> tables;
  for (int i = 0; i < r.rows(); ++i) tables[r.text(i, 0)].push_back(r.text(i, 1));
  return tables;
}

// The two schemas are one: the same tables with the same columns in the same order (what
// `ledger migrate` copies), at the same version number.
TEST(PostgresLedger, SchemaMatchesTheSqliteSchemaTableForTable) {
  const LedgerBackend sqlite_side(LedgerBackendKind::sqlite);
  const LedgerBackend postgres_side(LedgerBackendKind::postgresql);
  sqlite_side.open().reset();
  postgres_side.open().reset();
  EXPECT_EQ(postgres::latest_schema_version(), sqlite::latest_schema_version());
  const auto expected = sqlite_tables(sqlite_side.path());
  ASSERT_TRUE(expected.count("certificates") && expected.count("audit") && expected.count("events"));
  EXPECT_EQ(postgres_tables(postgres_side), expected);
  EXPECT_EQ(postgres_side.raw_int64("SELECT value FROM meta WHERE key = 'schema_version'"),
            sqlite::latest_schema_version());
}

TEST(PostgresLedger, RefusesALedgerFromANewerPortcullis) {
  const LedgerBackend backend(LedgerBackendKind::postgresql);
  backend.open().reset();
  backend.raw_exec("UPDATE meta SET value = 999 WHERE key = 'schema_version'");
  try {
    backend.open();
    FAIL() << "a newer ledger was opened";
  } catch (const LedgerError& e) {
    EXPECT_EQ(std::string(e.what()), "ledger schema version 999 is newer than this portcullis supports (" +
                                         std::to_string(postgres::latest_schema_version()) + "); upgrade portcullis");
  }
  EXPECT_EQ(backend.raw_int64("SELECT value FROM meta WHERE key = 'schema_version'"), 999);
}

// Nodes started together on an empty database: one creates the schema, the others wait
// for it (advisory lock) and find it done.
TEST(PostgresLedger, NodesStartingTogetherCreateTheSchemaOnce) {
  const LedgerBackend backend(LedgerBackendKind::postgresql);
  std::vector<std::thread> nodes;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    nodes.emplace_back([&] {
      if (backend.open()) ++opened;
    });
  }
  for (auto& t : nodes) t.join();
  EXPECT_EQ(opened.load(), 4);
  EXPECT_EQ(backend.raw_int64("SELECT value FROM meta WHERE key = 'crl_number'"), 0);
  EXPECT_EQ(backend.open()->integrity_check(), "ok");
}

// A password belongs in a password file: a url carrying one is refused, and no error
// message repeats a password, right or wrong.
TEST(PostgresLedger, PasswordsNeverAppearInErrors) {
  const LedgerBackend backend(LedgerBackendKind::postgresql);
  PostgresLedgerOptions options;
  options.url = "postgresql://portcullis:hunter2-in-url@127.0.0.1:1/x";
  try {
    open_postgres_ledger(options);
    FAIL() << "a url with a password was accepted";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("must not contain a password"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
  options.url = backend.url();
  options.password = "wrong-secret-42";
  try {
    open_postgres_ledger(options);
    FAIL() << "a wrong password was accepted";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("password authentication failed"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("wrong-secret-42"), std::string::npos) << e.what();
  }
}

TEST(PostgresLedger, AnUnreachableServerIsAClearErrorNotAHang) {
  PostgresLedgerOptions options;
  options.url = "postgresql://portcullis@127.0.0.1:1/ledger";
  const auto started = std::chrono::steady_clock::now();
  try {
    open_postgres_ledger(options);
    FAIL() << "connected to port 1";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect to PostgreSQL"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(6));
}

// PostgreSQL reports a full disk as SQLSTATE class 53 ("insufficient resources", e.g.
// 53100 disk_full): the ledger raises LedgerFull for it, as SQLite's SQLITE_FULL does, so
// that accounting is not answered while it cannot be stored (RFC 2866 §2).
TEST(PostgresLedgerErrors, ADiskFullWriteIsLedgerFull) {
  LedgerBackend backend(LedgerBackendKind::postgresql);
  auto ledger = backend.open();
  backend.raw_exec(
      "CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END $$; "
      "CREATE TRIGGER test_disk_full BEFORE INSERT ON radius_sessions "
      "FOR EACH ROW EXECUTE FUNCTION test_disk_full()");
  RadiusSessionRow row;
  row.nas = "wlc";
  row.acct_session_id = "s-1";
  row.started_at = row.updated_at = 1'000;
  EXPECT_THROW(ledger->record_radius_session(row), LedgerFull);
}

}  // namespace
}  // namespace portcullis::ca
