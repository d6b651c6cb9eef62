// radius/eap/tls_engine: the server TLS engine driven directly by an OpenSSL client over
// memory BIOs (no EAP framing): versions, key export, authorization by the ledger.
#include "radius/eap/tls_engine.hpp"
#include "radius/eap/failure_reason.hpp"

#include "eap_fixture.hpp"
#include "tests/unit/support/scratch_registry.hpp"

#include <openssl/err.h>

#include <filesystem>
#include <optional>

#include <gtest/gtest.h>

namespace portcullis::radius::eap::testing {
namespace {

// A bare TLS client pumping bytes to a TlsEngine until neither side has anything to say.
struct Pump {
  ca::SslCtxPtr ctx;
  ca::SslPtr ssl;
  BIO* rbio = nullptr;
  BIO* wbio = nullptr;

  Pump(const Client* c, const X509* root, int version) {
    ctx.reset(ca::check_ptr(SSL_CTX_new(TLS_client_method()), "SSL_CTX_new"));
    if (version != 0) {
      SSL_CTX_set_min_proto_version(ctx.get(), version);
      SSL_CTX_set_max_proto_version(ctx.get(), version);
    }
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), const_cast<X509*>(root));
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (c != nullptr) {
      SSL_CTX_use_certificate(ctx.get(), c->cert.get());
      SSL_CTX_use_PrivateKey(ctx.get(), c->key.get());
    }
    ssl.reset(ca::check_ptr(SSL_new(ctx.get()), "SSL_new"));
    ca::BioPtr in(ca::check_ptr(BIO_new(BIO_s_mem()), "bio"));
    ca::BioPtr out(ca::check_ptr(BIO_new(BIO_s_mem()), "bio"));
    BIO_set_mem_eof_return(in.get(), -1);
    rbio = in.get();
    wbio = out.get();
    SSL_set_bio(ssl.get(), in.release(), out.release());
    SSL_set_connect_state(ssl.get());
  }

  ~Pump() {
    // Keep the session resumable (see TlsEngine::~TlsEngine).
    if (SSL_is_init_finished(ssl.get())) SSL_set_shutdown(ssl.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  Bytes client_output() {
    Bytes out(BIO_ctrl_pending(wbio));
    if (!out.empty()) BIO_read(wbio, out.data(), static_cast<int>(out.size()));
    return out;
  }

  // Runs the handshake; returns the engine's final status.
  TlsStatus run(TlsEngine& engine) {
    TlsStatus st = TlsStatus::need_more;
    for (int i = 0; i < 20; ++i) {
      SSL_do_handshake(ssl.get());
      Bytes to_server = client_output();
      if (to_server.empty()) break;
      st = engine.feed(to_server);
      Bytes to_client = engine.take_output();
      if (!to_client.empty()) BIO_write(rbio, to_client.data(), static_cast<int>(to_client.size()));
      if (st != TlsStatus::need_more) {
        SSL_do_handshake(ssl.get());
        break;
      }
    }
    ERR_clear_error();
    return st;
  }

  // Hands server bytes to the client and lets it read them (TLS 1.3 tickets, data).
  void deliver(const Bytes& in) {
    BIO_write(rbio, in.data(), static_cast<int>(in.size()));
    unsigned char buf[64];
    while (SSL_read(ssl.get(), buf, sizeof buf) > 0) {
    }
    ERR_clear_error();
  }

  KeyMaterial keys() {
    std::uint8_t km[128];
    if (SSL_version(ssl.get()) == TLS1_3_VERSION) {
      const unsigned char context[] = {0x0D};
      SSL_export_keying_material(ssl.get(), km, 128, "EXPORTER_EAP_TLS_Key_Material", 29, context, 1, 1);
    } else {
      SSL_export_keying_material(ssl.get(), km, 128, "client EAP encryption", 21, nullptr, 0, 0);
    }
    KeyMaterial k;
    std::copy(km, km + 64, k.msk.begin());
    std::copy(km + 64, km + 128, k.emsk.begin());
    return k;
  }
};

class TlsEngineTest : public EapFixture {
 protected:
  // A certificate with `original`'s serial, subject and key, signed by `issuer`.
  static Client copy_of(const Client& original, const X509* issuer, EVP_PKEY* issuer_key) {
    Client c;
    ca::check(EVP_PKEY_up_ref(original.key.get()), "EVP_PKEY_up_ref");
    c.key.reset(original.key.get());
    const ca::Bytes serial = ca::serial_bytes(original.cert.get());
    c.cert = ca::new_certificate(serial, X509_get_subject_name(original.cert.get()), X509_get_subject_name(issuer),
                                 c.key.get(), now() - 60, now() + 86400);
    ca::add_basic_constraints(c.cert.get(), false, std::nullopt);
    ca::add_key_usage(c.cert.get(), {ca::ku_digital_signature});
    ca::add_extended_key_usage(c.cert.get(), {NID_client_auth});
    ca::add_authority_key_identifier(c.cert.get(), issuer);
    ca::sign_certificate(c.cert.get(), issuer_key, EVP_sha256());
    c.serial_hex = original.serial_hex;
    return c;
  }
};

TEST_F(TlsEngineTest, ResumesWithTheSavedSession) {
  const Client c = issue("engine-resume");
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    ca::SslSessionPtr saved;
    {
      TlsEngine engine(tls_);
      Pump client(&c, authority_->root(), version);
      ASSERT_EQ(client.run(engine), TlsStatus::handshake_done) << engine.failure_reason();
      if (version == TLS1_3_VERSION) {
        engine.write_commitment();
        client.deliver(engine.take_output());
      }
      saved.reset(SSL_get1_session(client.ssl.get()));
      ASSERT_EQ(SSL_SESSION_is_resumable(saved.get()), 1);
    }
    TlsEngine engine(tls_);
    Pump client(&c, authority_->root(), version);
    SSL_set_session(client.ssl.get(), saved.get());
    ASSERT_EQ(client.run(engine), TlsStatus::handshake_done) << engine.failure_reason();
    EXPECT_TRUE(engine.resumed());
    EXPECT_EQ(SSL_session_reused(client.ssl.get()), 1);
    EXPECT_EQ(engine.version(), version);
    ASSERT_TRUE(engine.peer());
    EXPECT_EQ(engine.peer()->serial_hex, c.serial_hex);
  }
}

TEST_F(TlsEngineTest, HandshakeAndKeysForBothVersions) {
  const Client c = issue("engine-1");
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsEngine engine(tls_);
    Pump client(&c, authority_->root(), version);
    ASSERT_EQ(client.run(engine), TlsStatus::handshake_done) << engine.failure_reason();
    EXPECT_EQ(engine.version(), version);
    EXPECT_EQ(engine.version_name(), version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2");
    EXPECT_FALSE(engine.resumed());
    ASSERT_TRUE(engine.peer());
    EXPECT_EQ(engine.peer()->serial_hex, c.serial_hex);
    EXPECT_EQ(engine.peer()->identity.verdict, ca::IdentityVerdict::good);
    EXPECT_EQ(engine.peer()->identity.device_name, "engine-1");
    const KeyMaterial server = engine.export_keys();
    const KeyMaterial peer = client.keys();
    EXPECT_EQ(server.msk, peer.msk);
    EXPECT_EQ(server.emsk, peer.emsk);
    EXPECT_NE(server.msk, server.emsk);
  }
}

TEST_F(TlsEngineTest, ServerSendsItsChainWithoutTheRoot) {
  const Client c = issue("engine-chain");
  TlsEngine engine(tls_);
  Pump client(&c, authority_->root(), TLS1_3_VERSION);
  ASSERT_EQ(client.run(engine), TlsStatus::handshake_done);
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(client.ssl.get());
  ASSERT_NE(chain, nullptr);
  ASSERT_EQ(sk_X509_num(chain), 2);
  EXPECT_EQ(X509_cmp(sk_X509_value(chain, 0), authority_->server()), 0);
  EXPECT_EQ(X509_cmp(sk_X509_value(chain, 1), authority_->issuing()), 0);
}

TEST_F(TlsEngineTest, CertificateOfOurCaButUnknownToTheLedgerIsRejectedWithAnAlert) {
  Client c;
  c.key = new_key(false);
  c.cert = sign_cert(c.key.get(), "ghost", authority_->issuing(), authority_->issuing_key(), now() - 60, now() + 86400,
                     false);
  TlsEngine engine(tls_);
  Pump client(&c, authority_->root(), TLS1_2_VERSION);
  TlsStatus st = TlsStatus::need_more;
  // Drive by hand to look at the alert the engine leaves for the peer.
  SSL_do_handshake(client.ssl.get());
  st = engine.feed(client.client_output());
  ASSERT_EQ(st, TlsStatus::need_more);
  Bytes flight = engine.take_output();
  BIO_write(client.rbio, flight.data(), static_cast<int>(flight.size()));
  SSL_do_handshake(client.ssl.get());
  st = engine.feed(client.client_output());
  EXPECT_EQ(st, TlsStatus::failed);
  EXPECT_EQ(engine.failure_reason(), "unknown");
  EXPECT_EQ(engine.failure_code(), "unknown_certificate");  // our CA's name as issuer, not in the ledger
  const Bytes alert = engine.take_output();
  ASSERT_GE(alert.size(), 7u);
  EXPECT_EQ(alert[0], 21);  // TLS record type alert
  ERR_clear_error();
}

// A certificate that names our issuing CA but is signed with another key is not one of
// ours: the ledger does not know its bytes.
TEST_F(TlsEngineTest, ALookAlikeSignedWithAnotherKeyIsUnknown) {
  const Client good = issue("lookalike-good");
  Client forged;
  forged.key = new_key(false);
  forged.cert = sign_cert(forged.key.get(), "lookalike-good", authority_->issuing(), foreign_key_.get(), now() - 60,
                          now() + 86400, false);
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsEngine ok(tls_);
    Pump client(&good, authority_->root(), version);
    EXPECT_EQ(client.run(ok), TlsStatus::handshake_done) << ok.failure_reason();

    TlsEngine bad(tls_);
    Pump impostor(&forged, authority_->root(), version);
    EXPECT_EQ(impostor.run(bad), TlsStatus::failed);
    EXPECT_EQ(bad.failure_reason(), "unknown");
    ASSERT_TRUE(bad.peer());
    EXPECT_EQ(bad.peer()->identity.verdict, ca::IdentityVerdict::unknown);
  }
}

// The review's forgery: under an enterprise root, a sibling CA issues a certificate that
// copies a device's serial and subject, and the client sends the sibling CA along. A root
// as trust anchor (with the serial as identity) accepted it as that device.
TEST_F(TlsEngineTest, ASiblingCaUnderOurRootCannotImpersonateADevice) {
  const Client device = issue("sibling-victim");
  const ca::EvpPkeyPtr root_key = ca::key_from_pem(ca::read_file(ca_dir_ + "/ca/root.key"));
  const ca::EvpPkeyPtr sibling_key = new_key(false);
  const ca::X509Ptr sibling = sign_cert(sibling_key.get(), "Sibling Issuing CA", authority_->root(), root_key.get(),
                                        now() - 3600, now() + 86400, true);
  const Client forged = copy_of(device, sibling.get(), sibling_key.get());
  ASSERT_EQ(ca::serial_hex(forged.cert.get()), device.serial_hex);

  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsEngine engine(tls_);
    Pump impostor(&forged, authority_->root(), version);
    ASSERT_EQ(SSL_CTX_add1_chain_cert(impostor.ctx.get(), sibling.get()), 1);
    EXPECT_EQ(impostor.run(engine), TlsStatus::failed) << "version " << version;
    EXPECT_EQ(engine.failure_reason(), "unknown");
    ASSERT_TRUE(engine.peer());
    EXPECT_EQ(engine.peer()->serial_hex, device.serial_hex);   // same serial, yet not the device
    EXPECT_EQ(engine.peer()->identity.device_id, 0);
  }
}

// With a rollover staged, both issuing CAs are named to clients, and still only the
// ledger's certificates get in: not the forgery, not a certificate the staged CA signed
// outside the ledger.
TEST_F(TlsEngineTest, AfterARolloverIsStagedOnlyLedgerCertificatesGetIn) {
  const std::string dir = make_temp_dir();
  std::filesystem::copy(ca_dir_ + "/ca", dir + "/ca", std::filesystem::copy_options::recursive);
  ca::BootstrapOptions o;
  o.ca_dir = dir + "/ca";
  ca::stage_rollover(o, portcullis::testing::scratch_registry());
  const ca::Authority current = ca::Authority::load(ca::CaPaths{o.ca_dir});
  const std::optional<ca::Authority> next = ca::Authority::load_staged(ca::CaPaths{o.ca_dir});
  ASSERT_TRUE(next);
  auto cfg = TlsServerConfig::from_authority(current, index_, {}, &*next);

  const Client device = issue("rollover-device");
  const ca::EvpPkeyPtr root_key = ca::key_from_pem(ca::read_file(o.ca_dir + "/root.key"));
  const ca::EvpPkeyPtr sibling_key = new_key(false);
  const ca::X509Ptr sibling = sign_cert(sibling_key.get(), "Sibling Issuing CA", current.root(), root_key.get(),
                                        now() - 3600, now() + 86400, true);
  const Client forged = copy_of(device, sibling.get(), sibling_key.get());
  const Client unrecorded = copy_of(device, next->issuing(), next->issuing_key());

  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsEngine ok(cfg);
    Pump client(&device, current.root(), version);
    ASSERT_EQ(client.run(ok), TlsStatus::handshake_done) << ok.failure_reason();
    const STACK_OF(X509_NAME)* named = SSL_get_client_CA_list(client.ssl.get());
    ASSERT_NE(named, nullptr);
    ASSERT_EQ(sk_X509_NAME_num(named), 2);
    EXPECT_EQ(X509_NAME_cmp(sk_X509_NAME_value(named, 0), X509_get_subject_name(current.issuing())), 0);
    EXPECT_EQ(X509_NAME_cmp(sk_X509_NAME_value(named, 1), X509_get_subject_name(next->issuing())), 0);

    for (const Client* c : {&forged, &unrecorded}) {
      TlsEngine bad(cfg);
      Pump impostor(c, current.root(), version);
      EXPECT_EQ(impostor.run(bad), TlsStatus::failed);
      EXPECT_EQ(bad.failure_reason(), "unknown");
    }
  }
  std::filesystem::remove_all(dir);
}

// A certificate of ours from a profile without clientAuth (the "server" profile) is not a
// client identity, though the ledger knows it and it is valid.
TEST_F(TlsEngineTest, AServerCertificateOfOursIsNotAClientCertificate) {
  const Client c = issue_in(*issuer_, "server", "server-not-client");
  TlsEngine engine(tls_);
  Pump client(&c, authority_->root(), TLS1_3_VERSION);
  EXPECT_EQ(client.run(engine), TlsStatus::failed);
  EXPECT_EQ(engine.failure_reason(), "not_for_client_auth");
  ASSERT_TRUE(engine.peer());
  EXPECT_EQ(engine.peer()->identity.verdict, ca::IdentityVerdict::good);
}

// A certificate without an extended key usage (the SCEP RA's, in the ledger like every
// certificate we sign) could serve any purpose by RFC 5280; it is not a client identity.
TEST_F(TlsEngineTest, ACertificateOfOursWithoutClientAuthUsageIsRefused) {
  ca::Profile no_eku = ca::default_profiles().at("device");
  no_eku.name = "no-eku";
  no_eku.extended_key_usage.clear();
  ca::Issuer issuer(*authority_, {{"no-eku", no_eku}}, ca::IssuerUrls{}, *registry_);
  const Client c = issue_in(issuer, "no-eku", "no-eku");
  TlsEngine engine(tls_);
  Pump client(&c, authority_->root(), TLS1_2_VERSION);
  EXPECT_EQ(client.run(engine), TlsStatus::failed);
  EXPECT_EQ(engine.failure_reason(), "not_for_client_auth");
}

TEST_F(TlsEngineTest, IdentityVerdictUsesTheConfiguredClock) {
  const Client c = issue("engine-clock");
  TlsServerOptions o;
  o.clock = [] { return static_cast<ca::UnixTime>(std::time(nullptr)) + 100LL * 365 * 86400; };
  auto far_future = TlsServerConfig::from_authority(*authority_, index_, o);
  TlsEngine engine(far_future);
  Pump client(&c, authority_->root(), TLS1_3_VERSION);
  EXPECT_EQ(client.run(engine), TlsStatus::failed);
  EXPECT_EQ(engine.failure_reason(), "expired");
}

TEST_F(TlsEngineTest, GarbageFailsCleanly) {
  TlsEngine engine(tls_);
  const Bytes junk(300, 0x16);
  EXPECT_EQ(engine.feed(junk), TlsStatus::failed);
  EXPECT_NE(engine.failure_reason().find("TLS handshake failed"), std::string::npos);
  EXPECT_EQ(engine.feed(junk), TlsStatus::failed);
}

TEST_F(TlsEngineTest, MisuseThrows) {
  TlsEngine engine(tls_);
  EXPECT_THROW(engine.write_commitment(), std::logic_error);
  EXPECT_THROW(engine.export_keys(), std::logic_error);
  EXPECT_EQ(engine.version(), 0);
  EXPECT_THROW(TlsEngine(nullptr), std::invalid_argument);
}

TEST_F(TlsEngineTest, VersionSwitches) {
  TlsServerOptions none;
  none.enable_tls12 = false;
  none.enable_tls13 = false;
  EXPECT_THROW(TlsServerConfig::from_authority(*authority_, index_, none), std::invalid_argument);

  const Client c = issue("engine-versions");
  TlsServerOptions only12;
  only12.enable_tls13 = false;
  TlsEngine e12(TlsServerConfig::from_authority(*authority_, index_, only12));
  Pump client12(&c, authority_->root(), 0);
  ASSERT_EQ(client12.run(e12), TlsStatus::handshake_done);
  EXPECT_EQ(e12.version(), TLS1_2_VERSION);

  TlsServerOptions only13;
  only13.enable_tls12 = false;
  TlsEngine e13(TlsServerConfig::from_authority(*authority_, index_, only13));
  Pump client13(&c, authority_->root(), TLS1_2_VERSION);
  EXPECT_EQ(client13.run(e13), TlsStatus::failed);
}

}  // namespace
}  // namespace portcullis::radius::eap::testing

namespace portcullis::radius::eap {
namespace {

// The reason vocabulary is fixed (docs/events.md): an alert number no RFC names folds into
// tls_alert:other, the number itself goes to the sentence.
TEST(FailureReason, UnknownTlsAlertsFoldIntoOther) {
  EXPECT_EQ(reason::tls_alert(48), "tls_alert:unknown_ca");
  EXPECT_EQ(reason::tls_alert(116), "tls_alert:certificate_required");
  EXPECT_EQ(reason::tls_alert(200), "tls_alert:other");
  EXPECT_EQ(reason::tls_alert(255), "tls_alert:other");
  EXPECT_EQ(reason::alert_name(48), "unknown_ca");
  EXPECT_NE(reason::alert_name(200).find("200"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::radius::eap
