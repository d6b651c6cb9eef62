// The RADIUS server handler driven with datagrams built by our own codec (no sockets),
// against a real CA, ledger and identity index (the EAP tests' fixture) and the test
// EAP-TLS peer.
#pragma once

#include "../eap/eap_fixture.hpp"
#include "radius/attribute_values.hpp"
#include "radius/packet.hpp"
#include "radius/server.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <optional>
#include <string>

namespace portcullis::radius::testing {

inline constexpr const char* kSecret = "unit-test-shared-secret";

// Header + attributes, Length filled in, no authenticator computed: for packets our
// encoder refuses to make (Status-Server without Message-Authenticator, lies).
inline Bytes raw_packet(Code code, std::uint8_t id, const Authenticator& auth, const Bytes& attributes) {
  Bytes out(kHeaderLength + attributes.size());
  out[0] = static_cast<std::uint8_t>(code);
  out[1] = id;
  std::copy(auth.begin(), auth.end(), out.begin() + 4);
  std::copy(attributes.begin(), attributes.end(), out.begin() + kHeaderLength);
  out[2] = static_cast<std::uint8_t>(out.size() >> 8);
  out[3] = static_cast<std::uint8_t>(out.size() & 0xFF);
  return out;
}

class ServerFixture : public eap::testing::EapFixture {
 protected:
  void SetUp() override {
    EapFixture::SetUp();
    NasClient nas;
    nas.name = "wlc";
    nas.secret = kSecret;
    nas_.add(nas, "127.0.0.0/8");
    NasClient lax;
    lax.name = "legacy";
    lax.secret = kSecret;
    lax.require_message_authenticator = false;
    nas_.add(lax, "192.0.2.1");
    make_server({});
  }
  void TearDown() override {
    server_.reset();
    EapFixture::TearDown();
  }

  void make_server(ServerOptions options) {
    server_.reset();
    server_ = std::make_unique<Server>(nas_, tls_, *ledger_, std::move(options));
  }

  std::uint64_t counter(std::string_view name) const {
    for (const auto& [n, v] : server_->counters().snapshot())
      if (n == name) return v;
    ADD_FAILURE() << "no counter " << name;
    return 0;
  }

  std::optional<Bytes> send_raw(const Bytes& datagram, SocketKind socket = SocketKind::auth,
                                const char* source = "127.0.0.1", std::uint16_t port = 40000) {
    Datagram d;
    d.bytes = datagram;
    d.source = IpAddress::parse(source).value();
    d.source_port = port;
    d.socket = socket;
    // Through the RadSec entry when a test names its NAS, as the RadSec listener does.
    auto reply = radsec_nas_ != nullptr ? server_->handle(d, *radsec_nas_) : server_->handle(d);
    // The tests read the ledger right after: let the writer catch up.
    if (flush_writes_) server_->ledger_writer().flush();
    return reply;
  }

  Bytes encode(const Packet& request, bool message_authenticator = true, const char* secret = kSecret) {
    auto bytes = encode_request(request, secret, message_authenticator);
    EXPECT_TRUE(bytes.ok());
    return bytes.value();
  }

  // Sends `request` and checks the reply's authenticators (Message-Authenticator first).
  std::optional<Packet> exchange(const Packet& request, SocketKind socket = SocketKind::auth) {
    const Bytes wire = encode(request, request.code != Code::AccountingRequest);
    auto reply = send_raw(wire, socket);
    if (!reply) return std::nullopt;
    auto parsed = parse(*reply);
    EXPECT_TRUE(parsed.ok());
    if (!parsed.ok()) return std::nullopt;
    Authenticator request_auth;
    std::copy(wire.begin() + 4, wire.begin() + 20, request_auth.begin());
    EXPECT_TRUE(verify_response_authenticator(*reply, request_auth, kSecret));
    // Every reply, accounting included, carries Message-Authenticator first (BlastRADIUS).
    EXPECT_FALSE(parsed->attributes.empty());
    if (!parsed->attributes.empty()) {
      EXPECT_EQ(parsed->attributes.front().type, attr::MessageAuthenticator);
    }
    // An Accounting-Response's is computed over zeros, as FreeRADIUS verifies it.
    const Authenticator mac_auth = request.code == Code::AccountingRequest ? Authenticator{} : request_auth;
    EXPECT_EQ(check_message_authenticator(*reply, kSecret, &mac_auth), MessageAuthenticatorStatus::Valid);
    for (const auto& a : parsed->attributes) EXPECT_LE(a.value.size(), kMaxAttributeValueLength);
    return parsed.value();
  }

  // An EAP-Response/Identity (RFC 3748 §5.1), as the NAS forwards it first.
  static Bytes peer_identity(std::uint8_t id = 1) {
    const std::string name = "anonymous@example.net";
    Bytes eap(5 + name.size());
    eap[0] = 2;
    eap[1] = id;
    eap[3] = static_cast<std::uint8_t>(eap.size());
    eap[4] = 1;
    std::copy(name.begin(), name.end(), eap.begin() + 5);
    return eap;
  }

  Packet access_request(const Bytes& eap, const std::string& state = {}) {
    Packet p;
    p.code = Code::AccessRequest;
    p.identifier = next_id_++;
    p.authenticator = random_authenticator();
    p.add(attr::UserName, "anonymous@example.net");
    p.add(attr::CallingStationId, "02-00-00-00-00-01");
    if (!called_station_.empty()) p.add(attr::CalledStationId, called_station_);
    add_eap_message(p, eap);
    if (!state.empty()) p.add(attr::State, state);
    return p;
  }

  struct Outcome {
    Packet final;
    int challenges = 0;
    Authenticator last_request_auth{};
  };

  // A whole EAP-TLS conversation over RADIUS between the peer and the server.
  Outcome run_conversation(eap::testing::EapTlsPeer& peer) {
    Outcome o;
    Packet request = access_request(peer.identity_response(1));
    std::set<std::string> states;
    for (int i = 0; i < 100; ++i) {
      o.last_request_auth = request.authenticator;
      auto reply = exchange(request);
      if (!reply) throw std::runtime_error("no reply");
      if (reply->code != Code::AccessChallenge) {
        if (reply->code == Code::AccessAccept || reply->code == Code::AccessReject) {
          const JoinedEap eap = join_eap_message(*reply);
          peer.respond(eap.eap);
        }
        o.final = *reply;
        return o;
      }
      ++o.challenges;
      const Attribute* state = reply->find(attr::State);
      if (state == nullptr) throw std::runtime_error("challenge without State");
      const std::string s(state->value.begin(), state->value.end());
      EXPECT_EQ(s.size(), 16u);
      EXPECT_TRUE(states.insert(s).second) << "State reused";
      const JoinedEap eap = join_eap_message(*reply);
      auto response = peer.respond(eap.eap);
      if (!response) throw std::runtime_error("peer stopped");
      request = access_request(*response, s);
    }
    throw std::runtime_error("conversation did not end");
  }

  NasTable nas_;
  std::unique_ptr<Server> server_;
  const NasClient* radsec_nas_ = nullptr;  // set: requests go through handle(datagram, nas)
  bool flush_writes_ = true;
  std::uint8_t next_id_ = 1;
  std::string called_station_;  // Called-Station-Id of access_request(), when set
};

}  // namespace portcullis::radius::testing
