// radius::Server::handle: Status-Server, Message-Authenticator rules (BlastRADIUS), State,
// Proxy-State, whole EAP-TLS conversations ending in Accept/Reject, duplicates, and
// malformed input. Datagrams are made with our codec; no sockets.
#include "radius/mppe.hpp"
#include "server_fixture.hpp"

#include <openssl/rand.h>

#include <random>
#include <set>
#include <thread>

namespace portcullis::radius::testing {
namespace {

Packet status_server_request() {
  Packet p;
  p.code = Code::StatusServer;
  p.identifier = 99;
  p.authenticator = random_authenticator();
  return p;
}

class RadiusServerTest : public ServerFixture {
 protected:
  // Runs `peer`'s conversation on from the Access-Challenge `reply` to its end.
  Packet finish_conversation(eap::testing::EapTlsPeer& peer, Packet reply) {
    for (int i = 0; i < 100 && reply.code == Code::AccessChallenge; ++i) {
      const Attribute* state = reply.find(attr::State);
      if (state == nullptr) throw std::runtime_error("challenge without State");
      auto response = peer.respond(join_eap_message(reply).eap);
      if (!response) throw std::runtime_error("peer stopped");
      auto next = exchange(access_request(*response, std::string(state->value.begin(), state->value.end())));
      if (!next) throw std::runtime_error("no reply");
      reply = *next;
    }
    return reply;
  }
};

TEST_F(RadiusServerTest, StatusServerWithMessageAuthenticatorIsAnswered) {
  Packet p = status_server_request();
  p.add(attr::ProxyState, "ps1");
  auto reply = exchange(p);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, Code::AccessAccept);
  EXPECT_EQ(reply->identifier, 99);
  ASSERT_NE(reply->find(attr::ProxyState), nullptr);
  // On the accounting port the answer is an Accounting-Response (RFC 5997 §4).
  auto acct = exchange(status_server_request(), SocketKind::acct);
  ASSERT_TRUE(acct);
  EXPECT_EQ(acct->code, Code::AccountingResponse);
  EXPECT_EQ(counter("status_server"), 2u);
}

// RadSec (RFC 6614 §2.3): the caller names the NAS (by its certificate), whatever the
// source address; the secret is the NAS's ("radsec").
TEST_F(RadiusServerTest, ANasNamedByTheCallerIsAnsweredFromAnyAddress) {
  NasClient radsec;
  radsec.name = "wlc-radsec";
  radsec.secret = "radsec";
  radsec.sign_accounting_responses = false;
  Datagram d;
  const Bytes wire = encode(status_server_request(), true, "radsec");
  d.bytes = wire;
  d.source = IpAddress::parse("198.51.100.7").value();  // no UDP client has this address
  d.source_port = 40000;
  EXPECT_FALSE(server_->handle(d));                     // looked up by address: unknown
  auto reply = server_->handle(d, radsec);
  ASSERT_TRUE(reply);
  Authenticator request_auth;
  std::copy(wire.begin() + 4, wire.begin() + 20, request_auth.begin());
  EXPECT_TRUE(verify_response_authenticator(*reply, request_auth, "radsec"));
  EXPECT_EQ((*reply)[0], static_cast<std::uint8_t>(Code::AccessAccept));

  // Its Accounting-Responses carry no Message-Authenticator (NasClient::sign_accounting_responses).
  Packet start;
  start.code = Code::AccountingRequest;
  start.identifier = 7;
  start.add_integer(attr::AcctStatusType, 1);
  start.add(attr::AcctSessionId, "radsec-1");
  const Bytes acct = encode(start, false, "radsec");
  d.bytes = acct;
  d.socket = SocketKind::acct;
  auto response = server_->handle(d, radsec);
  ASSERT_TRUE(response);
  auto parsed = parse(*response);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->code, Code::AccountingResponse);
  EXPECT_EQ(parsed->find(attr::MessageAuthenticator), nullptr);
  std::copy(acct.begin() + 4, acct.begin() + 20, request_auth.begin());
  EXPECT_TRUE(verify_response_authenticator(*response, request_auth, "radsec"));
}

// RADIUS/1.1 (RFC 9765) on a RadSec connection: nothing to verify and nothing signed; the
// Token is echoed, Reserved-1 is zero, there is no Message-Authenticator even for
// Status-Server (§5.2, §6.2) and no Request Authenticator on accounting.
TEST_F(RadiusServerTest, Radius11RequestsAreAnsweredWithTheirTokenAndNoMd5) {
  NasClient v11;
  v11.name = "wlc-v11";
  v11.secret = "radsec";
  v11.profile = Profile::radius_1_1;
  const Bytes token_only = {0xca, 0xfe, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Bytes status = {static_cast<std::uint8_t>(Code::StatusServer), 0, 0, 20};
  status.insert(status.end(), token_only.begin(), token_only.end());
  Datagram d;
  d.bytes = status;
  d.source = IpAddress::parse("198.51.100.8").value();
  d.source_port = 40001;
  auto reply = server_->handle(d, v11);
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, (Bytes{2, 0, 0, 20, 0xca, 0xfe, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  // The same bytes from a classic NAS are dropped: Status-Server needs a Message-Authenticator.
  NasClient classic = v11;
  classic.profile = Profile::radius;
  d.source_port = 40002;
  EXPECT_FALSE(server_->handle(d, classic));

  Packet start;
  start.code = Code::AccountingRequest;
  start.authenticator = {0xca, 0xfe, 0x00, 0x02};
  start.add_integer(attr::AcctStatusType, 1);
  start.add(attr::AcctSessionId, "v11-1");
  const Bytes acct = encode_request(start, "", false, Profile::radius_1_1).value();
  d.bytes = acct;
  d.socket = SocketKind::acct;
  d.source_port = 40001;
  auto response = server_->handle(d, v11);
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, (Bytes{5, 0, 0, 20, 0xca, 0xfe, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST_F(RadiusServerTest, StatusServerWithoutMessageAuthenticatorIsDropped) {
  Bytes nas_id = {attr::NasIdentifier, 5, 'a', 'p', '1'};
  EXPECT_FALSE(send_raw(raw_packet(Code::StatusServer, 1, random_authenticator(), nas_id)));
  EXPECT_EQ(counter("missing_message_authenticator"), 1u);
  EXPECT_EQ(counter("status_server"), 0u);
}

TEST_F(RadiusServerTest, AccessRequestWithoutMessageAuthenticatorIsDroppedAndCounted) {
  // What radclient 3.2.1 sends for `auth`: EAP-Message, no Message-Authenticator.
  Packet p = access_request(Bytes{2, 1, 0, 10, 1, 'a', 'b', 'c', 'd', 'e'});
  EXPECT_FALSE(send_raw(encode(p, false)));
  EXPECT_EQ(counter("missing_message_authenticator"), 1u);
  // A NAS exempted from BlastRADIUS protection still needs it with EAP (RFC 3579 §3.2)...
  EXPECT_FALSE(send_raw(encode(p, false), SocketKind::auth, "192.0.2.1"));
  EXPECT_EQ(counter("missing_message_authenticator"), 2u);
  // ... and without EAP gets an answer: Access-Reject, only EAP-TLS is offered.
  Packet pap;
  pap.code = Code::AccessRequest;
  pap.identifier = 5;
  pap.authenticator = random_authenticator();
  pap.add(attr::UserName, "bob");
  auto reply = send_raw(encode(pap, false), SocketKind::auth, "192.0.2.1");
  ASSERT_TRUE(reply);
  EXPECT_EQ(parse(*reply)->code, Code::AccessReject);
  EXPECT_EQ(counter("not_eap"), 1u);
  EXPECT_EQ(ledger_->audit({std::nullopt, std::string("radius.reject"), 10}).size(), 1u);
}

TEST_F(RadiusServerTest, InvalidMessageAuthenticatorIsDroppedWithoutTouchingTheCache) {
  Packet p = access_request(peer_identity());
  const Bytes forged = encode(p, true, "not-the-secret");
  EXPECT_FALSE(send_raw(forged));
  EXPECT_EQ(counter("invalid_message_authenticator"), 1u);
  // The genuine packet with the same Identifier and Request Authenticator is processed,
  // not treated as a duplicate of the forged one (RFC 5080 §2.2.2).
  auto reply = exchange(p);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, Code::AccessChallenge);
  EXPECT_EQ(counter("duplicate_in_progress") + counter("duplicate_resent"), 0u);
}

TEST_F(RadiusServerTest, UnknownStateIsRejectedWithEapFailureAndAudited) {
  auto reply = exchange(access_request(Bytes{2, 7, 0, 6, 13, 0}, std::string(16, 'x')));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, Code::AccessReject);
  const JoinedEap eap = join_eap_message(*reply);
  EXPECT_EQ(eap.eap, (Bytes{4, 7, 0, 4}));  // EAP-Failure answering Identifier 7
  EXPECT_EQ(counter("unknown_state"), 1u);
  auto audit = ledger_->audit({std::nullopt, std::string("radius.reject"), 10});
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "radius");
  EXPECT_EQ(audit[0].target, "-");
}

TEST_F(RadiusServerTest, ProxyStateIsCopiedInOrder) {
  Packet p = access_request(peer_identity());
  p.add(attr::ProxyState, "first");
  p.add(attr::ProxyState, "second");
  auto reply = exchange(p);
  ASSERT_TRUE(reply);
  std::vector<std::string> copied;
  for (const auto& a : reply->attributes)
    if (a.type == attr::ProxyState) copied.emplace_back(a.value.begin(), a.value.end());
  EXPECT_EQ(copied, (std::vector<std::string>{"first", "second"}));
}

TEST_F(RadiusServerTest, RetransmissionGetsTheSameReplyWithoutAdvancingTheConversation) {
  const Bytes wire = encode(access_request(peer_identity()));
  auto first = send_raw(wire);
  ASSERT_TRUE(first);
  auto second = send_raw(wire);
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(counter("duplicate_resent"), 1u);
  EXPECT_EQ(counter("access_challenge"), 1u);
  EXPECT_EQ(server_->eap_conversations(), 1u);
  // From another source port it is another request (RFC 5080 §2.2.2 key).
  EXPECT_TRUE(send_raw(wire, SocketKind::auth, "127.0.0.1", 40001));
  EXPECT_EQ(counter("access_challenge"), 2u);
}

TEST_F(RadiusServerTest, UnknownNasIsDroppedAndCounted) {
  EXPECT_FALSE(send_raw(encode(status_server_request()), SocketKind::auth, "198.51.100.7"));
  EXPECT_FALSE(send_raw(encode(status_server_request()), SocketKind::auth, "2001:db8::1"));
  EXPECT_EQ(counter("unknown_nas"), 2u);
}

TEST_F(RadiusServerTest, FullEapTlsConversationEndsInAcceptWithKeysClassAndSessionTimeout) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    for (bool rsa : {false, true}) {
      eap::testing::Client client = issue("laptop-" + std::to_string(version) + (rsa ? "-rsa" : "-ec"), rsa);
      eap::testing::EapTlsPeer peer(peer_options(&client, version, 300));
      Outcome o = run_conversation(peer);
      ASSERT_EQ(o.final.code, Code::AccessAccept) << "version " << version;
      EXPECT_GT(o.challenges, 2);
      EXPECT_EQ(join_eap_message(o.final).eap.at(0), 3);  // EAP-Success
      // RFC 2548 / RFC 5216 §2.3: Recv-Key = MSK[0..31], Send-Key = MSK[32..63].
      const eap::KeyMaterial keys = peer.keys();
      auto recv = o.final.find_vendor(vendor::Microsoft, ms::MppeRecvKey);
      auto send = o.final.find_vendor(vendor::Microsoft, ms::MppeSendKey);
      ASSERT_TRUE(recv && send);
      EXPECT_EQ(mppe_decrypt(*recv, kSecret, o.last_request_auth), Bytes(keys.msk.begin(), keys.msk.begin() + 32));
      EXPECT_EQ(mppe_decrypt(*send, kSecret, o.last_request_auth), Bytes(keys.msk.begin() + 32, keys.msk.end()));
      const Attribute* cls = o.final.find(attr::Class);
      ASSERT_NE(cls, nullptr);
      EXPECT_EQ(std::string(cls->value.begin(), cls->value.begin() + 4), "pc1:");
      const auto timeout = o.final.integer(attr::SessionTimeout);
      ASSERT_TRUE(timeout);
      EXPECT_LE(static_cast<ca::UnixTime>(*timeout), ca::not_after_unix(client.cert.get()) - now() + 1);
      EXPECT_LE(*timeout, 86400u);
    }
  }
  EXPECT_EQ(counter("access_accept"), 4u);
  EXPECT_EQ(server_->eap_conversations(), 0u);
}

TEST_F(RadiusServerTest, SessionTimeoutNeverPassesNotAfter) {
  ServerOptions options;
  options.max_session_timeout = 0xFFFFFFFF;
  make_server(options);
  eap::testing::Client client = issue("short-lived");
  eap::testing::EapTlsPeer peer(peer_options(&client));
  Outcome o = run_conversation(peer);
  ASSERT_EQ(o.final.code, Code::AccessAccept);
  const auto timeout = o.final.integer(attr::SessionTimeout).value();
  const ca::UnixTime left = ca::not_after_unix(client.cert.get()) - now();
  EXPECT_LE(static_cast<ca::UnixTime>(timeout), left + 1);
  EXPECT_GE(static_cast<ca::UnixTime>(timeout), left - 5);
}

TEST_F(RadiusServerTest, ForeignRevokedAndDisabledCertificatesAreRejectedAndAudited) {
  eap::testing::Client foreign = issue_foreign("stranger");
  eap::testing::EapTlsPeer p1(peer_options(&foreign));
  EXPECT_EQ(run_conversation(p1).final.code, Code::AccessReject);

  eap::testing::Client revoked = issue("to-revoke");
  registry_->revoke(revoked.serial_hex, ca::RevocationReason::key_compromise, now(), "test");
  eap::testing::EapTlsPeer p2(peer_options(&revoked));
  Outcome o2 = run_conversation(p2);
  EXPECT_EQ(o2.final.code, Code::AccessReject);
  EXPECT_EQ(join_eap_message(o2.final).eap.at(0), 4);  // EAP-Failure

  eap::testing::Client disabled = issue("to-disable");
  registry_->set_device_enabled(disabled.device_id, false, "test");
  eap::testing::EapTlsPeer p3(peer_options(&disabled));
  EXPECT_EQ(run_conversation(p3).final.code, Code::AccessReject);

  eap::testing::Client expired = issue_expired("old");
  eap::testing::EapTlsPeer p4(peer_options(&expired));
  EXPECT_EQ(run_conversation(p4).final.code, Code::AccessReject);

  EXPECT_EQ(counter("access_reject"), 4u);
  EXPECT_EQ(ledger_->audit({revoked.serial_hex, std::string("radius.reject"), 10}).size(), 1u);
  EXPECT_EQ(ledger_->audit({disabled.serial_hex, std::string("radius.reject"), 10}).size(), 1u);
}

TEST_F(RadiusServerTest, FullTableEvictsTheLongestIdleConversation) {
  ServerOptions options;
  options.max_eap_sessions = 1;
  make_server(options);
  auto first = exchange(access_request(peer_identity()));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->code, Code::AccessChallenge);
  const Attribute* first_state = first->find(attr::State);
  ASSERT_NE(first_state, nullptr);
  // A new conversation still gets in; the idle one makes room.
  auto second = exchange(access_request(peer_identity()));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->code, Code::AccessChallenge);
  EXPECT_EQ(counter("sessions_evicted"), 1u);
  // The evicted conversation's State is now unknown.
  auto resumed = exchange(access_request(peer_identity(), std::string(first_state->value.begin(), first_state->value.end())));
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->code, Code::AccessReject);
  EXPECT_EQ(counter("unknown_state"), 1u);
}

// A Challenge that cannot be encoded (here: the NAS's Proxy-State, echoed per RFC 2865
// §5.33, and a full TLS fragment exceed 4096 octets) reaches nobody: its conversation
// must leave the table at once instead of holding memory until the idle timeout.
TEST_F(RadiusServerTest, ChallengeTooLargeToSendDropsItsConversation) {
  eap::testing::Client client = issue("too-large");
  eap::testing::EapTlsPeer peer(peer_options(&client));
  auto start = exchange(access_request(peer.identity_response(1)));
  ASSERT_TRUE(start);
  ASSERT_EQ(start->code, Code::AccessChallenge);
  const Attribute* state = start->find(attr::State);
  ASSERT_NE(state, nullptr);
  auto hello = peer.respond(join_eap_message(*start).eap);
  ASSERT_TRUE(hello);
  Packet request = access_request(*hello, std::string(state->value.begin(), state->value.end()));
  for (int i = 0; i < 11; ++i) request.add(attr::ProxyState, Bytes(250, static_cast<std::uint8_t>(i)));
  ASSERT_EQ(server_->eap_conversations(), 1u);
  EXPECT_FALSE(send_raw(encode(request)));
  EXPECT_EQ(counter("reply_too_large"), 1u);
  EXPECT_EQ(server_->eap_conversations(), 0u);
}

// One NAS client entry holds at most max_eap_sessions_per_nas open conversations. At the
// cap a new one takes the place of that NAS's longest-idle conversation; it is refused
// (Access-Reject + EAP-Failure) only while all of them were used within kEvictionGrace.
// Other NASes and the conversations in progress carry on.
TEST_F(RadiusServerTest, OneNasCannotHoldMoreThanItsCapOfConversations) {
  auto clock = std::make_shared<SteadyClock::time_point>(SteadyClock::now());
  ServerOptions options;
  options.steady_clock = [clock] { return *clock; };
  options.max_eap_sessions_per_nas = 2;
  make_server(options);
  eap::testing::Client client = issue("capped");
  eap::testing::EapTlsPeer peer(peer_options(&client));
  auto first = exchange(access_request(peer.identity_response(1)));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->code, Code::AccessChallenge);
  ASSERT_EQ(exchange(access_request(peer_identity()))->code, Code::AccessChallenge);
  auto third = exchange(access_request(peer_identity(7)));
  ASSERT_TRUE(third);
  EXPECT_EQ(third->code, Code::AccessReject);
  EXPECT_EQ(join_eap_message(*third).eap, (Bytes{4, 7, 0, 4}));  // EAP-Failure (RFC 3579 §2.6.3)
  EXPECT_EQ(counter("eap_refused_nas_cap"), 1u);
  EXPECT_EQ(server_->eap_conversations_of("wlc"), 2u);
  // Another NAS is not affected.
  auto other = send_raw(encode(access_request(peer_identity())), SocketKind::auth, "192.0.2.1");
  ASSERT_TRUE(other);
  EXPECT_EQ(parse(*other)->code, Code::AccessChallenge);
  EXPECT_EQ(server_->eap_conversations_of("legacy"), 1u);
  // The conversation already open goes on to its Accept.
  *clock += std::chrono::milliseconds(500);
  EXPECT_EQ(finish_conversation(peer, *first).code, Code::AccessAccept);
  EXPECT_EQ(server_->eap_conversations_of("wlc"), 1u);
  // Its slot is free again.
  EXPECT_EQ(exchange(access_request(peer_identity()))->code, Code::AccessChallenge);
  EXPECT_EQ(counter("eap_evicted_nas_cap"), 0u);
}

// A flood of half-open conversations through one NAS (EAP-Starts with random MACs) fills
// its cap; once they sit idle past kEvictionGrace, a new device behind that NAS gets in,
// in the place of that NAS's longest-idle conversation, never another NAS's.
TEST_F(RadiusServerTest, FloodOnOneNasDoesNotLockOutItsNewDevicesNorOtherNases) {
  auto clock = std::make_shared<SteadyClock::time_point>(SteadyClock::now());
  ServerOptions options;
  options.steady_clock = [clock] { return *clock; };
  options.max_eap_sessions_per_nas = 3;
  make_server(options);
  // The other NAS's conversation is the longest idle of all.
  auto other = send_raw(encode(access_request(peer_identity())), SocketKind::auth, "192.0.2.1");
  ASSERT_TRUE(other);
  const Packet other_reply = parse(*other).value();
  ASSERT_EQ(other_reply.code, Code::AccessChallenge);
  *clock += std::chrono::seconds(1);
  for (int i = 0; i < 10; ++i) {
    auto flood = exchange(access_request(peer_identity(static_cast<std::uint8_t>(i))));
    ASSERT_TRUE(flood);
    EXPECT_EQ(flood->code, i < 3 ? Code::AccessChallenge : Code::AccessReject) << i;
  }
  EXPECT_EQ(counter("eap_refused_nas_cap"), 7u);
  *clock += std::chrono::seconds(3);
  // A real device behind the flooded NAS authenticates.
  eap::testing::Client client = issue("after-flood");
  eap::testing::EapTlsPeer peer(peer_options(&client));
  auto first = exchange(access_request(peer.identity_response(1)));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->code, Code::AccessChallenge);
  EXPECT_EQ(counter("eap_evicted_nas_cap"), 1u);
  EXPECT_EQ(server_->eap_conversations_of("wlc"), 3u);
  EXPECT_EQ(finish_conversation(peer, *first).code, Code::AccessAccept);
  // The flood goes on; every new one takes the place of one of its own idle ones.
  *clock += std::chrono::seconds(3);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(exchange(access_request(peer_identity()))->code, Code::AccessChallenge);
  EXPECT_EQ(server_->eap_conversations_of("legacy"), 1u);
  // The other NAS's conversation, idle all along, is still there: its State is known
  // (the EAP layer, not the table, answers this empty response to the Start).
  const Attribute* state = other_reply.find(attr::State);
  ASSERT_NE(state, nullptr);
  Packet next = access_request(Bytes{2, 2, 0, 6, 13, 0}, std::string(state->value.begin(), state->value.end()));
  ASSERT_TRUE(send_raw(encode(next), SocketKind::auth, "192.0.2.1"));
  EXPECT_EQ(counter("unknown_state"), 0u);
}

// The memory budget: each open conversation is charged kConversationBaseBytes plus its
// buffers' capacity. A new one that would pass the budget takes the place of the
// longest-idle conversation (any NAS's); it is refused only while every candidate was
// used within kEvictionGrace.
TEST_F(RadiusServerTest, MemoryBudgetEvictsIdleConversationsAndRefusesOnlyActiveOnes) {
  auto clock = std::make_shared<SteadyClock::time_point>(SteadyClock::now());
  ServerOptions options;
  options.steady_clock = [clock] { return *clock; };
  options.eap_memory_budget = 2 * kConversationBaseBytes + 100;
  make_server(options);
  auto first = exchange(access_request(peer_identity()));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->code, Code::AccessChallenge);
  ASSERT_EQ(exchange(access_request(peer_identity()))->code, Code::AccessChallenge);
  EXPECT_GE(server_->eap_charged_bytes(), 2 * kConversationBaseBytes);
  auto refused = send_raw(encode(access_request(peer_identity())), SocketKind::auth, "192.0.2.1");
  ASSERT_TRUE(refused);
  EXPECT_EQ(parse(*refused)->code, Code::AccessReject);
  EXPECT_EQ(counter("eap_refused_budget"), 1u);
  EXPECT_EQ(server_->eap_conversations(), 2u);
  *clock += std::chrono::seconds(3);
  auto admitted = send_raw(encode(access_request(peer_identity())), SocketKind::auth, "192.0.2.1");
  ASSERT_TRUE(admitted);
  EXPECT_EQ(parse(*admitted)->code, Code::AccessChallenge);
  EXPECT_EQ(counter("eap_evicted_budget"), 1u);
  EXPECT_EQ(server_->eap_conversations(), 2u);
  EXPECT_LE(server_->eap_charged_bytes(), options.eap_memory_budget);
  // The longest idle (the first) made room: its State is gone.
  const Attribute* state = first->find(attr::State);
  ASSERT_NE(state, nullptr);
  auto resumed = exchange(access_request(Bytes{2, 2, 0, 6, 13, 0}, std::string(state->value.begin(), state->value.end())));
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->code, Code::AccessReject);
  EXPECT_EQ(counter("unknown_state"), 1u);
}

// The budget holds for conversations in progress too: one whose buffers grow past it at
// the next round trip, with nothing idle to make room, is dropped.
TEST_F(RadiusServerTest, ConversationWhoseBuffersWouldPassTheBudgetIsDropped) {
  ServerOptions options;
  options.eap_memory_budget = kConversationBaseBytes + 100;
  make_server(options);
  eap::testing::Client client = issue("grows");
  eap::testing::EapTlsPeer peer(peer_options(&client));
  auto start = exchange(access_request(peer.identity_response(1)));
  ASSERT_TRUE(start);
  ASSERT_EQ(start->code, Code::AccessChallenge);
  // The ClientHello: the server's flight (certificate and all, far more than 100 octets)
  // is buffered for sending.
  EXPECT_EQ(finish_conversation(peer, *start).code, Code::AccessReject);
  EXPECT_EQ(counter("eap_refused_budget"), 1u);
  EXPECT_EQ(server_->eap_conversations(), 0u);
  EXPECT_EQ(server_->eap_charged_bytes(), 0u);
}

TEST_F(RadiusServerTest, IdleConversationsExpire) {
  auto clock = std::make_shared<SteadyClock::time_point>(SteadyClock::now());
  ServerOptions options;
  options.steady_clock = [clock] { return *clock; };
  make_server(options);
  auto reply = exchange(access_request(peer_identity()));
  ASSERT_TRUE(reply);
  const Attribute* state = reply->find(attr::State);
  ASSERT_NE(state, nullptr);
  *clock += std::chrono::seconds(61);
  auto late = exchange(access_request(Bytes{2, 2, 0, 6, 13, 0}, std::string(state->value.begin(), state->value.end())));
  ASSERT_TRUE(late);
  EXPECT_EQ(late->code, Code::AccessReject);
  EXPECT_EQ(counter("unknown_state"), 1u);
}

TEST_F(RadiusServerTest, MalformedDatagramsAreDroppedAndCountedByKind) {
  EXPECT_FALSE(send_raw(Bytes{1, 2, 0}));                        // shorter than a header
  Bytes lying = encode(access_request(peer_identity()));
  lying[2] = 0x01;                                               // Length 256+ > datagram
  EXPECT_FALSE(send_raw(lying));
  EXPECT_EQ(counter("malformed_truncated"), 2u);
  Bytes huge = lying;
  huge[2] = 0x20;                                                // Length 8192 > 4096
  huge[3] = 0x00;
  EXPECT_FALSE(send_raw(huge));
  EXPECT_FALSE(send_raw(Bytes(5000, 0)));                        // oversized datagram of zeros
  EXPECT_GE(counter("malformed_bad_length") + counter("malformed_truncated"), 4u);
  Bytes bad_attr = raw_packet(Code::AccessRequest, 3, random_authenticator(), Bytes{attr::UserName, 1, 'x'});
  EXPECT_FALSE(send_raw(bad_attr));
  EXPECT_EQ(counter("malformed_bad_attribute"), 1u);
  EXPECT_EQ(counter("access_reject") + counter("access_challenge"), 0u);
  EXPECT_TRUE(ledger_->audit({std::nullopt, std::string("radius.reject"), 10}).empty());  // drops are not audited
}

TEST_F(RadiusServerTest, EapMessagesThatLieAboutTheirLengthAreHandledWithoutCrashing) {
  // EAP header says 1000 octets, 6 are present.
  auto r1 = exchange(access_request(Bytes{2, 1, 0x03, 0xE8, 1, 'a'}));
  // EAP-TLS with the L flag announcing 16 MiB in a tiny packet, after a conversation began.
  auto start = exchange(access_request(peer_identity()));
  ASSERT_TRUE(start);
  const Attribute* state = start->find(attr::State);
  ASSERT_NE(state, nullptr);
  const JoinedEap eap = join_eap_message(*start);
  const std::uint8_t id = eap.eap.at(1);
  auto r2 = exchange(access_request(Bytes{2, id, 0, 12, 13, 0x80, 0x01, 0, 0, 0, 0x16, 0x03},
                                    std::string(state->value.begin(), state->value.end())));
  // Interleaved EAP-Message attributes (RFC 3579 §3.1): dropped.
  Packet split = access_request(Bytes(300, 0x41));
  split.attributes.insert(split.attributes.begin() + 3, Attribute{attr::NasIdentifier, {'x'}});
  EXPECT_FALSE(send_raw(encode(split)));
  EXPECT_EQ(counter("eap_not_consecutive"), 1u);
  // Whatever the answers (discard or reject), each is counted and nothing crashed.
  if (r1) {
    EXPECT_EQ(r1->code, Code::AccessReject);
  }
  if (r2) {
    EXPECT_EQ(r2->code, Code::AccessReject);
  }
  EXPECT_EQ(counter("received"), counter("eap_discard") + counter("access_reject") + counter("access_challenge") +
                                     counter("eap_not_consecutive"));
}

TEST_F(RadiusServerTest, RandomMutationsNeverCrash) {
  std::mt19937 rng(12345);
  const Bytes base = encode(access_request(peer_identity()));
  for (int i = 0; i < 3000; ++i) {
    Bytes m = base;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) m[rng() % m.size()] = static_cast<std::uint8_t>(rng());
    if (rng() % 4 == 0) m.resize(rng() % (m.size() + 1));
    send_raw(m, SocketKind::auth, "127.0.0.1", static_cast<std::uint16_t>(1024 + i));
  }
  EXPECT_EQ(counter("received"), 3000u);
  EXPECT_EQ(counter("internal_error"), 0u);
}

// State values come from a per-thread pool of RAND_bytes output: 16 octets each, never
// repeated, across refills (64 values per pool) and across threads.
TEST(NewState, SixteenFreshOctetsEachAcrossRefillsAndThreads) {
  std::vector<std::string> a;
  std::vector<std::string> b;
  std::thread other([&b] {
    for (int i = 0; i < 200; ++i) b.push_back(new_state());
  });
  for (int i = 0; i < 200; ++i) a.push_back(new_state());
  other.join();
  std::set<std::string> seen;
  for (const auto* v : {&a, &b}) {
    for (const std::string& s : *v) {
      ASSERT_EQ(s.size(), 16u);
      EXPECT_TRUE(seen.insert(s).second);
    }
  }
  EXPECT_EQ(seen.size(), 400u);
}

}  // namespace
}  // namespace portcullis::radius::testing
