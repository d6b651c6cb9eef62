// RFC 2866 accounting through radius::Server: Request Authenticator checked, Start /
// Interim / Stop recorded in the ledger and tied to the certificate of the Accept.
#include "server_fixture.hpp"

namespace portcullis::radius::testing {
namespace {

class RadiusAccountingTest : public ServerFixture {
 protected:
  Packet acct(std::uint32_t status, const std::string& session, const std::string& station,
              const std::optional<Bytes>& cls = std::nullopt) {
    Packet p;
    p.code = Code::AccountingRequest;
    p.identifier = next_id_++;
    p.add_integer(attr::AcctStatusType, status);
    p.add(attr::AcctSessionId, session);
    if (!station.empty()) p.add(attr::CallingStationId, station);
    p.add(attr::UserName, "anonymous@example.net");
    if (cls) p.add(attr::Class, *cls);
    return p;
  }

  std::optional<ca::RadiusSessionRow> row(const std::string& session) {
    for (auto& r : ledger_->list_radius_sessions(false, 100))
      if (r.acct_session_id == session) return r;
    return std::nullopt;
  }
};

TEST_F(RadiusAccountingTest, StartInterimStopAreRecordedAndLinkedByClass) {
  eap::testing::Client client = issue("phone-1");
  eap::testing::EapTlsPeer peer(peer_options(&client));
  Outcome o = run_conversation(peer);
  ASSERT_EQ(o.final.code, Code::AccessAccept);
  const Bytes cls = o.final.find(attr::Class)->value;

  auto start = exchange(acct(1, "sess-1", "aa-bb", cls), SocketKind::acct);
  ASSERT_TRUE(start);
  EXPECT_EQ(start->code, Code::AccountingResponse);
  auto live = ledger_->list_radius_sessions(true, 10);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].nas, "wlc");
  EXPECT_EQ(live[0].serial, client.serial_hex);
  EXPECT_EQ(live[0].device, "phone-1");
  EXPECT_EQ(live[0].calling_station_id, "aa-bb");
  EXPECT_FALSE(live[0].stopped_at);
  EXPECT_EQ(server_->live_sessions().by_serial(client.serial_hex).size(), 1u);

  ASSERT_TRUE(exchange(acct(3, "sess-1", "aa-bb", cls), SocketKind::acct));
  ASSERT_TRUE(exchange(acct(2, "sess-1", "aa-bb", cls), SocketKind::acct));
  EXPECT_TRUE(ledger_->list_radius_sessions(true, 10).empty());
  auto stopped = row("sess-1");
  ASSERT_TRUE(stopped);
  EXPECT_TRUE(stopped->stopped_at);
  EXPECT_EQ(stopped->serial, client.serial_hex);
  // A late Interim-Update does not bring it back to life.
  ASSERT_TRUE(exchange(acct(3, "sess-1", "aa-bb", cls), SocketKind::acct));
  EXPECT_TRUE(ledger_->list_radius_sessions(true, 10).empty());
  EXPECT_EQ(server_->live_sessions().size(), 1u);  // the late interim re-adds it in memory only
  EXPECT_EQ(counter("acct_start"), 1u);
  EXPECT_EQ(counter("acct_stop"), 1u);
  EXPECT_EQ(counter("acct_linked"), 4u);
}

TEST_F(RadiusAccountingTest, CallingStationIdIsTheFallbackLink) {
  eap::testing::Client client = issue("phone-2");
  eap::testing::EapTlsPeer peer(peer_options(&client));
  ASSERT_EQ(run_conversation(peer).final.code, Code::AccessAccept);
  // access_request() sends Calling-Station-Id 02-00-00-00-00-01; no Class echoed here.
  ASSERT_TRUE(exchange(acct(1, "sess-2", "02-00-00-00-00-01"), SocketKind::acct));
  EXPECT_EQ(row("sess-2")->serial, client.serial_hex);
  EXPECT_EQ(counter("acct_unlinked"), 0u);
}

// User-Name is chosen by the peer (an outer EAP identity): it links nothing, even when
// the latest Accept had the same one. Nor does the Calling-Station-Id another NAS saw.
TEST_F(RadiusAccountingTest, NeitherUserNameNorAnotherNassStationLinks) {
  eap::testing::Client client = issue("phone-3");
  eap::testing::EapTlsPeer peer(peer_options(&client));
  ASSERT_EQ(run_conversation(peer).final.code, Code::AccessAccept);  // User-Name anonymous@example.net
  ASSERT_TRUE(exchange(acct(1, "sess-3", "unknown-station", Bytes{'f', 'o', 'o'}), SocketKind::acct));
  EXPECT_EQ(row("sess-3")->serial, "");
  // The Accept's Calling-Station-Id, but accounting from the other NAS ("legacy").
  const Bytes wire = encode_request(acct(1, "sess-4", "02-00-00-00-00-01"), kSecret, false).value();
  ASSERT_TRUE(send_raw(wire, SocketKind::acct, "192.0.2.1"));
  EXPECT_EQ(row("sess-4")->serial, "");
  EXPECT_EQ(counter("acct_unlinked"), 2u);
  EXPECT_EQ(counter("acct_linked"), 0u);
}

// A session silent past stale_intervals x its Acct-Interim-Interval leaves the live table
// and is closed in the ledger; one that keeps reporting stays.
TEST_F(RadiusAccountingTest, SilentSessionsExpireAndAreClosedInTheLedger) {
  auto clock = std::make_shared<ca::UnixTime>(1'000'000);
  ServerOptions options;
  options.clock = [clock] { return *clock; };
  make_server(options);
  Packet quiet = acct(1, "quiet", "aa");
  quiet.add_integer(attr::AcctInterimInterval, 5);  // taken as 60 s (RFC 2869 §5.16)
  ASSERT_TRUE(exchange(quiet, SocketKind::acct));
  Packet busy = acct(1, "busy", "bb");
  busy.add_integer(attr::AcctInterimInterval, 60);
  ASSERT_TRUE(exchange(busy, SocketKind::acct));
  *clock += 150;
  Packet interim = acct(3, "busy", "bb");
  ASSERT_TRUE(exchange(interim, SocketKind::acct));
  EXPECT_EQ(server_->live_sessions().size(), 2u);  // 150 s < 3 x 60 s
  *clock += 100;                                    // quiet: 250 s silent; busy: 100 s
  ASSERT_TRUE(exchange(acct(3, "busy", "bb"), SocketKind::acct));
  EXPECT_EQ(server_->live_sessions().size(), 1u);
  EXPECT_EQ(counter("acct_sessions_expired"), 1u);
  ASSERT_TRUE(row("quiet"));
  EXPECT_EQ(row("quiet")->stopped_at, *clock);
  EXPECT_FALSE(row("busy")->stopped_at);
}

// The live table is bounded; the session pushed out is closed in the ledger too.
TEST_F(RadiusAccountingTest, LiveSessionsAreBoundedAndThePushedOutOneClosed) {
  ServerOptions options;
  options.live_sessions.max_sessions = 2;
  make_server(options);
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(exchange(acct(1, id, "aa"), SocketKind::acct));
  EXPECT_EQ(server_->live_sessions().size(), 2u);
  EXPECT_EQ(ledger_->list_radius_sessions(true, 10).size(), 2u);
  EXPECT_EQ(counter("acct_sessions_expired"), 1u);
}

// Stopped rows past the retention are pruned from the ledger as accounting goes on.
TEST_F(RadiusAccountingTest, StoppedRowsArePrunedAfterTheRetention) {
  auto clock = std::make_shared<ca::UnixTime>(1'000'000);
  ServerOptions options;
  options.clock = [clock] { return *clock; };
  options.retention.stopped_seconds = 3600;
  make_server(options);
  ASSERT_TRUE(exchange(acct(1, "old", "aa"), SocketKind::acct));
  ASSERT_TRUE(exchange(acct(2, "old", "aa"), SocketKind::acct));
  ASSERT_TRUE(row("old"));
  *clock += 3601;
  ASSERT_TRUE(exchange(acct(1, "new", "bb"), SocketKind::acct));
  EXPECT_FALSE(row("old"));
  EXPECT_TRUE(row("new"));
}

// BlastRADIUS (draft-ietf-radext-deprecating-radius): Message-Authenticator in every
// reply, the Accounting-Response included, first among the attributes.
TEST_F(RadiusAccountingTest, AccountingResponseCarriesMessageAuthenticatorFirst) {
  const Bytes wire = encode_request(acct(1, "sess-ma", "aa"), kSecret, false).value();
  auto reply = send_raw(wire, SocketKind::acct);
  ASSERT_TRUE(reply);
  ASSERT_GE(reply->size(), kHeaderLength + 18);
  EXPECT_EQ((*reply)[0], static_cast<std::uint8_t>(Code::AccountingResponse));
  EXPECT_EQ((*reply)[kHeaderLength], attr::MessageAuthenticator);
  const Authenticator zeros{};
  EXPECT_EQ(check_message_authenticator(*reply, kSecret, &zeros), MessageAuthenticatorStatus::Valid);
  EXPECT_EQ(check_message_authenticator(*reply, "another-secret", &zeros), MessageAuthenticatorStatus::Invalid);
}

TEST_F(RadiusAccountingTest, BadRequestAuthenticatorIsDroppedAndNothingRecorded) {
  Packet p = acct(1, "sess-x", "aa");
  Bytes wire = encode_request(p, "wrong-secret", false).value();
  EXPECT_FALSE(send_raw(wire, SocketKind::acct));
  Bytes tampered = encode_request(p, kSecret, false).value();
  tampered.back() ^= 0x01;
  EXPECT_FALSE(send_raw(tampered, SocketKind::acct));
  EXPECT_EQ(counter("acct_bad_authenticator"), 2u);
  EXPECT_FALSE(row("sess-x"));
  // Accounting on the authentication socket is not served there.
  EXPECT_FALSE(send_raw(encode_request(p, kSecret, false).value(), SocketKind::auth));
  EXPECT_EQ(counter("unexpected_code"), 1u);
}

TEST_F(RadiusAccountingTest, AccountingOnAndMissingSessionIdStillGetAResponse) {
  Packet on;
  on.code = Code::AccountingRequest;
  on.identifier = 1;
  on.add_integer(attr::AcctStatusType, 7);
  auto reply = exchange(on, SocketKind::acct);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, Code::AccountingResponse);
  EXPECT_EQ(counter("acct_other"), 1u);
  EXPECT_TRUE(ledger_->list_radius_sessions(false, 10).empty());
}

TEST_F(RadiusAccountingTest, RetransmittedAccountingIsAnsweredFromTheCache) {
  const Bytes wire = encode_request(acct(1, "sess-d", "aa"), kSecret, false).value();
  auto a = send_raw(wire, SocketKind::acct);
  auto b = send_raw(wire, SocketKind::acct);
  auto c = send_raw(wire, SocketKind::acct);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
  EXPECT_EQ(counter("acct_start"), 1u);
  EXPECT_EQ(counter("duplicate_resent"), 2u);
}

}  // namespace
}  // namespace portcullis::radius::testing
