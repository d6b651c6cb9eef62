#include "radius/eap/tls_engine.hpp"

#include "radius/eap/failure_reason.hpp"
#include "radius/eap/tls_library_context.hpp"

#include "ca/authority.hpp"
#include "ca/profile.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>
#include <utility>

namespace portcullis::radius::eap {
namespace {

// Binds sessions to this service: OpenSSL refuses to resume a session whose context
// differs, and with SSL_VERIFY_PEER it refuses resumption outright without one.
constexpr unsigned char kSessionIdContext[] = "portcullis-eap-tls";

// RFC 5216 §2.3 (TLS <= 1.2) and RFC 9190 §2.3 (TLS 1.3) exporter parameters.
constexpr char kLabelTls12[] = "client EAP encryption";
constexpr char kLabelTls13[] = "EXPORTER_EAP_TLS_Key_Material";
constexpr unsigned char kTls13Context[] = {0x0D};  // the EAP-TLS Type-Code
constexpr std::size_t kKeyMaterialSize = 128;

}  // namespace

// --- TlsServerConfig -------------------------------------------------------------------

TlsServerConfig::TlsServerConfig(const ca::IdentityView& identities, TlsServerOptions options)
    : identities_(identities), options_(std::move(options)) {}

ca::UnixTime TlsServerConfig::now() const {
  return options_.clock ? options_.clock() : ca::now_unix();
}

std::shared_ptr<const TlsServerConfig> TlsServerConfig::create(const X509* server_cert, EVP_PKEY* server_key,
                                                               const std::vector<const X509*>& server_chain,
                                                               const std::vector<const X509*>& client_ca_names,
                                                               const ca::IdentityView& identities,
                                                               TlsServerOptions options) {
  if (server_cert == nullptr || server_key == nullptr) throw std::invalid_argument("TLS: server certificate and key required");
  if (!options.enable_tls12 && !options.enable_tls13) throw std::invalid_argument("TLS: enable TLS 1.2, 1.3 or both");

  std::shared_ptr<TlsServerConfig> cfg(new TlsServerConfig(identities, std::move(options)));
  const TlsServerOptions& o = cfg->options_;
  // tls_library_context(): the same default-provider algorithms, with a short decoder
  // search for the client's certificate.
  cfg->ctx_.reset(ca::check_ptr(SSL_CTX_new_ex(tls_library_context(), nullptr, TLS_server_method()), "SSL_CTX_new"));
  SSL_CTX* ctx = cfg->ctx_.get();

  // Never below TLS 1.2 (RFC 9190 §2.1 leaves older versions to RFC 5216, and we do not
  // offer them); 1.3 can be switched off for peers that mishandle it.
  ca::check(SSL_CTX_set_min_proto_version(ctx, o.enable_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION), "min version");
  ca::check(SSL_CTX_set_max_proto_version(ctx, o.enable_tls13 ? TLS1_3_VERSION : TLS1_2_VERSION), "max version");
  // No renegotiation (it would reopen authentication mid-conversation), our cipher order,
  // and idle buffers released: thousands of half-open conversations stay cheap.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // RFC 9190 §2.1.2 / §5.6: no early data in EAP-TLS 1.3.
  ca::check(SSL_CTX_set_max_early_data(ctx, 0), "max_early_data");
  ca::check(SSL_CTX_set_recv_max_early_data(ctx, 0), "recv_max_early_data");

  ca::check(SSL_CTX_use_certificate(ctx, const_cast<X509*>(server_cert)), "SSL_CTX_use_certificate");
  ca::check(SSL_CTX_use_PrivateKey(ctx, server_key), "SSL_CTX_use_PrivateKey");
  ca::check(SSL_CTX_check_private_key(ctx), "server key does not match the server certificate");
  for (const X509* c : server_chain) ca::check(SSL_CTX_add1_chain_cert(ctx, const_cast<X509*>(c)), "chain cert");

  // Client certificates: REQUIRED, and decided by decide_certificate alone. The store stays
  // empty (no default paths, no anchors), so nothing can make OpenSSL trust a chain.
  for (const X509* c : client_ca_names) ca::check(SSL_CTX_add_client_CA(ctx, const_cast<X509*>(c)), "client CA name");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, &TlsEngine::decide_certificate, nullptr);
  SSL_CTX_set_info_callback(ctx, &TlsEngine::on_info);

  ca::check(SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1), "sid ctx");
  if (o.session_resumption) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, o.session_cache_size);
    SSL_CTX_set_timeout(ctx, static_cast<long>(o.session_lifetime.count()));
    // One TLS 1.3 ticket is enough for EAP (each costs bytes, and so round trips).
    ca::check(SSL_CTX_set_num_tickets(ctx, 1), "num_tickets");
    // Stateful resumption: TLS 1.2 by session ID, TLS 1.3 with tickets that only name an
    // entry of this server cache. Self-contained tickets would make OpenSSL 3.0 serialise
    // and re-parse the whole session, client certificate included, for every ticket it
    // writes or reads (docs/performance.md). Cost: sessions live in this process (bounded
    // by session_cache_size), TLS 1.3 tickets are single-use, and after a restart clients
    // fall back to a full handshake, which is always safe.
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    ca::check(SSL_CTX_set_num_tickets(ctx, 0), "num_tickets");
  }
  return cfg;
}

std::shared_ptr<const TlsServerConfig> TlsServerConfig::from_authority(const ca::Authority& authority,
                                                                       const ca::IdentityView& identities,
                                                                       TlsServerOptions options,
                                                                       const ca::Authority* staged) {
  // Send the intermediates only: the peer has the root, and every certificate sent costs
  // EAP round trips (RFC 5216 §2.1.1 leaves the chain to TLS; fragments are ~1 KiB each).
  std::vector<const X509*> chain;
  for (const auto& c : authority.chain()) {
    if (X509_check_issued(c.get(), c.get()) != X509_V_OK) chain.push_back(c.get());
  }
  std::vector<const X509*> names{authority.issuing()};
  if (staged != nullptr) names.push_back(staged->issuing());
  return create(authority.server(), authority.server_key(), chain, names, identities, std::move(options));
}

// --- KeyMaterial -------------------------------------------------------------------------

KeyMaterial::~KeyMaterial() {
  OPENSSL_cleanse(msk.data(), msk.size());
  OPENSSL_cleanse(emsk.data(), emsk.size());
}

const char* to_string(TlsStatus status) {
  switch (status) {
    case TlsStatus::need_more: return "need_more";
    case TlsStatus::handshake_done: return "handshake_done";
    case TlsStatus::failed: return "failed";
  }
  return "?";
}

// --- TlsEngine ---------------------------------------------------------------------------

TlsEngine::TlsEngine(std::shared_ptr<const TlsServerConfig> config, LogSink log)
    : config_(std::move(config)), log_(std::move(log)) {
  if (!config_) throw std::invalid_argument("TLS: no server configuration");
  ssl_.reset(ca::check_ptr(SSL_new(config_->ctx()), "SSL_new"));
  ca::BioPtr rbio(ca::check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
  ca::BioPtr wbio(ca::check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
  // An empty input BIO means "retry later" (WANT_READ), not end of file.
  BIO_set_mem_eof_return(rbio.get(), -1);
  rbio_ = rbio.get();
  wbio_ = wbio.get();
  SSL_set_bio(ssl_.get(), rbio.release(), wbio.release());  // ssl_ owns both from here
  ca::check(SSL_set_app_data(ssl_.get(), this), "SSL_set_app_data");
  SSL_set_accept_state(ssl_.get());
}

TlsEngine::~TlsEngine() {
  // SSL_free() treats a connection that never exchanged close_notify as broken and drops
  // its session from the cache (marking it not resumable). EAP has no close_notify: the
  // conversation ends with EAP-Success. So an authorized handshake is marked as cleanly
  // shut down, and its session stays resumable; a failed one keeps OpenSSL's default.
  if (status_ == TlsStatus::handshake_done) SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

int TlsEngine::decide_certificate(X509_STORE_CTX* store, void* /*unused*/) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* self = ssl != nullptr ? static_cast<TlsEngine*>(SSL_get_app_data(ssl)) : nullptr;
  const X509* cert = X509_STORE_CTX_get0_cert(store);
  if (self == nullptr || cert == nullptr) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
    return 0;
  }
  // Decided during the handshake, so that OpenSSL sends the matching alert
  // (certificate_revoked, certificate_expired…): RFC 5216 §2.1.3 lets the peer tell the
  // user promptly.
  try {
    if (self->authorize(cert)) {
      X509_STORE_CTX_set_error(store, X509_V_OK);
      return 1;
    }
  } catch (const std::exception&) {
    // Exceptions must not cross OpenSSL's C frames.
    self->reason_ = "identity lookup failed";
    self->code_ = reason::kInternalError;
    self->verify_error_ = X509_V_ERR_APPLICATION_VERIFICATION;
  }
  X509_STORE_CTX_set_error(store, self->verify_error_);
  return 0;
}

bool TlsEngine::authorize(const X509* cert) {
  // The same certificate again in this handshake (the end of a full handshake after
  // decide_certificate, or of a resumption after the ClientHello check): what it says
  // cannot have changed, so only the ledger's verdict is taken again, now.
  if (peer_ && checked_cert_ && X509_cmp(checked_cert_.get(), cert) == 0) {
    peer_->identity = config_->identities().by_fingerprint(peer_->fingerprint, config_->now());
  } else {
    TlsPeer peer;
    unsigned int len = 0;
    ca::check(X509_digest(cert, EVP_sha256(), peer.fingerprint.data(), &len) == 1 && len == peer.fingerprint.size(),
              "X509_digest");
    peer.serial_hex = ca::serial_hex(cert);
    peer.subject = ca::subject_string(cert);
    peer.sans = ca::subject_alt_names(cert);
    peer.identity = config_->identities().by_fingerprint(peer.fingerprint, config_->now());
    peer_ = std::move(peer);
    ca::check(X509_up_ref(const_cast<X509*>(cert)), "X509_up_ref");
    checked_cert_.reset(const_cast<X509*>(cert));
  }
  const ca::IdentityVerdict verdict = peer_->identity.verdict;
  // The issuer says most about a certificate the ledger does not know (another CA's); for
  // one of ours it says nothing new, and printing a name costs as much as the ledger lookup.
  if (verdict == ca::IdentityVerdict::unknown && peer_->issuer.empty())
    if (const X509_NAME* issuer = X509_get_issuer_name(cert)) peer_->issuer = ca::name_to_string(issuer);
  if (verdict != ca::IdentityVerdict::good) {
    if (reason_.empty()) reason_ = ca::to_string(verdict);
    if (code_.empty()) {
      code_ = verdict != ca::IdentityVerdict::unknown ? ca::to_string(verdict)
              : issued_by_us(cert)                   ? reason::kUnknownCertificate
                                                     : reason::kUnknownIssuer;
    }
    verify_error_ = ca::x509_verify_error(verdict);
    return false;
  }
  // A NAS certificate (RadSec, RFC 6614 §2.3) carries clientAuth too, but names a NAS: its
  // key on a laptop must not put the laptop on the network as the NAS's device.
  if (peer_->identity.profile == ca::kNasProfile) {
    if (reason_.empty()) reason_ = "a NAS certificate (profile nas) is not a device identity";
    if (code_.empty()) code_ = reason::kNotForClientAuth;
    verify_error_ = X509_V_ERR_INVALID_PURPOSE;
    return false;
  }
  // Ours and valid, but perhaps issued for another purpose (a "server" profile certificate,
  // the SCEP RA's): RFC 5280 §4.2.1.12, a client identity names clientAuth explicitly. A
  // certificate without the extension (which RFC 5280 would let serve any purpose) is not one.
  const auto flags = X509_get_extension_flags(const_cast<X509*>(cert));
  if ((flags & EXFLAG_XKUSAGE) == 0 || (X509_get_extended_key_usage(const_cast<X509*>(cert)) & XKU_SSL_CLIENT) == 0) {
    if (reason_.empty()) reason_ = "not_for_client_auth";
    if (code_.empty()) code_ = reason::kNotForClientAuth;
    verify_error_ = X509_V_ERR_INVALID_PURPOSE;
    return false;
  }
  return true;
}

// Called once the session is known (right after the ClientHello on resumption, at the
// end of every handshake): the certificate may come from a cached session or a ticket,
// minted before a revocation, so the verdict is taken again now.
bool TlsEngine::authorize_session() {
  const X509* cert = SSL_get0_peer_certificate(ssl_.get());
  if (cert == nullptr) {
    if (reason_.empty()) reason_ = "no client certificate";
    if (code_.empty()) code_ = reason::kNoClientCertificate;
    return false;
  }
  const long verify = SSL_get_verify_result(ssl_.get());
  if (verify != X509_V_OK) {
    if (reason_.empty()) reason_ = std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
    return false;
  }
  try {
    return authorize(cert);
  } catch (const std::exception&) {
    if (reason_.empty()) reason_ = "identity lookup failed";
    if (code_.empty()) code_ = reason::kInternalError;
    return false;
  }
}

TlsEngine::OpenSslError TlsEngine::openssl_error() const {
  // The first queued error is the root cause; reason strings carry no key material.
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return {"TLS error", 0};
  const char* text = ERR_reason_error_string(e);
  return {text != nullptr ? text : "TLS error", ERR_GET_REASON(e)};
}

void TlsEngine::on_info(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_ALERT) == 0) return;
  auto* self = static_cast<TlsEngine*>(SSL_get_app_data(ssl));
  // ret: the alert level in the high byte, its description in the low one (RFC 8446 §6).
  if (self == nullptr || (ret >> 8) != SSL3_AL_FATAL) return;
  auto& slot = (where & SSL_CB_READ) != 0 ? self->peer_alert_ : self->our_alert_;
  if (!slot) slot = static_cast<std::uint8_t>(ret & 0xff);
}

bool TlsEngine::issued_by_us(const X509* cert) const {
  const X509_NAME* issuer = X509_get_issuer_name(cert);
  const STACK_OF(X509_NAME)* ours = SSL_CTX_get_client_CA_list(config_->ctx());
  for (int i = 0; issuer != nullptr && i < sk_X509_NAME_num(ours); ++i) {
    if (X509_NAME_cmp(sk_X509_NAME_value(ours, i), issuer) == 0) return true;
  }
  return false;
}

TlsStatus TlsEngine::fail(std::string reason, bool keep_alert, std::string code) {
  if (reason_.empty()) reason_ = std::move(reason);
  if (code_.empty()) code_ = std::move(code);
  // The client's alert says what it thinks of us (unknown_ca: it does not trust our
  // certificate); ours, when nothing more precise is known, what we refused.
  if (code_.empty() && peer_alert_) {
    code_ = reason::tls_alert(*peer_alert_);
    reason_ = "the client sent TLS alert " + reason::alert_name(*peer_alert_) + " (" + reason_ + ")";
  }
  if (code_.empty() && our_alert_) {
    code_ = reason::tls_alert(*our_alert_);
    reason_ = "the server sent TLS alert " + reason::alert_name(*our_alert_) + " (" + reason_ + ")";
  }
  if (code_.empty()) code_ = reason::kEapProtocol;
  if (!keep_alert) (void)BIO_reset(wbio_);
  // Never let a session that failed authorization be resumed from the cache later.
  if (SSL_SESSION* s = SSL_get_session(ssl_.get())) SSL_CTX_remove_session(config_->ctx(), s);
  status_ = TlsStatus::failed;
  if (log_) log_("TLS: failed (" + code_ + "): " + reason_);
  return status_;
}

TlsStatus TlsEngine::feed(std::span<const std::uint8_t> tls_bytes) {
  if (status_ == TlsStatus::failed) return status_;
  if (!tls_bytes.empty()) {
    if (BIO_write(rbio_, tls_bytes.data(), static_cast<int>(tls_bytes.size())) != static_cast<int>(tls_bytes.size())) {
      return fail("TLS input buffer error", false);
    }
  }
  ERR_clear_error();

  if (status_ == TlsStatus::handshake_done) {
    // RFC 5216 §2.1.1 / RFC 9190 §2.1.1: after our last handshake message the peer sends
    // an empty EAP-TLS response. A TLS record now is an alert or a protocol violation.
    if (tls_bytes.empty()) return status_;
    unsigned char sink[64];
    const int n = SSL_read(ssl_.get(), sink, sizeof sink);
    OPENSSL_cleanse(sink, sizeof sink);
    if (n > 0) return fail("unexpected application data from the peer", false);
    const int err = SSL_get_error(ssl_.get(), n);
    if (err == SSL_ERROR_ZERO_RETURN) return fail("peer closed the TLS connection", false);
    if (err == SSL_ERROR_WANT_READ) return fail("unexpected TLS record after the handshake", false);
    return fail("TLS error after the handshake: " + openssl_reason(), false);
  }

  const int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) {
    if (!authorize_session()) return fail(reason_, false);
    authorized_ = true;
    status_ = TlsStatus::handshake_done;
    if (log_) {
      log_("TLS: handshake done, " + version_name() + (resumed() ? ", resumed" : ", full") + ", serial " +
           peer_->serial_hex);
    }
    return status_;
  }
  const int err = SSL_get_error(ssl_.get(), rc);
  if (err == SSL_ERROR_WANT_READ) {
    // Resumption (TLS 1.2 session ID or ticket, TLS 1.3 PSK) is decided on the
    // ClientHello: check the restored certificate before sending a single byte back.
    if (SSL_session_reused(ssl_.get()) == 1 && !authorized_) {
      if (!authorize_session()) return fail(reason_, false);
      authorized_ = true;
    }
    return status_;
  }
  // A fatal handshake error: OpenSSL queued an alert in wbio_, which the caller should
  // send (RFC 5216 §2.1.3, RFC 9190 §2.1.3) before EAP-Failure.
  const OpenSslError why = openssl_error();
  std::string code;
  if (why.reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) code = reason::kNoClientCertificate;
  if (why.reason == SSL_R_BAD_SIGNATURE) code = reason::kBadSignature;
  return fail("TLS handshake failed: " + why.text, true, std::move(code));
}

void TlsEngine::write_commitment() {
  if (status_ != TlsStatus::handshake_done) throw std::logic_error("TLS: commitment before the handshake is done");
  if (version() != TLS1_3_VERSION) throw std::logic_error("TLS: the 0x00 commitment is for TLS 1.3 only");
  static constexpr unsigned char kCommitment[1] = {0x00};
  ERR_clear_error();
  if (SSL_write(ssl_.get(), kCommitment, 1) != 1) {
    fail("TLS: writing the commitment failed: " + openssl_reason(), false);
  }
}

std::vector<std::uint8_t> TlsEngine::take_output() {
  std::vector<std::uint8_t> out(BIO_ctrl_pending(wbio_));
  if (!out.empty()) {
    const int n = BIO_read(wbio_, out.data(), static_cast<int>(out.size()));
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  }
  return out;
}

int TlsEngine::version() const {
  // The server creates (or restores) the session only once the ClientHello has fixed the
  // version; before that SSL_version() reports the method's placeholder.
  const SSL_SESSION* session = SSL_get_session(ssl_.get());
  return session != nullptr ? SSL_SESSION_get_protocol_version(session) : 0;
}

std::string TlsEngine::version_name() const {
  switch (version()) {
    case TLS1_3_VERSION: return "TLSv1.3";
    case TLS1_2_VERSION: return "TLSv1.2";
    default: return "";
  }
}

bool TlsEngine::resumed() const { return SSL_session_reused(ssl_.get()) == 1; }

KeyMaterial TlsEngine::export_keys() const {
  if (status_ != TlsStatus::handshake_done) throw std::logic_error("TLS: keys before the handshake is done");
  std::array<std::uint8_t, kKeyMaterialSize> km{};
  int ok = 0;
  if (version() == TLS1_3_VERSION) {
    // RFC 9190 §2.3: one 128-octet export, sliced; asking for 64 would give other bytes.
    ok = SSL_export_keying_material(ssl_.get(), km.data(), km.size(), kLabelTls13, sizeof kLabelTls13 - 1,
                                    kTls13Context, sizeof kTls13Context, 1);
  } else {
    // RFC 5216 §2.3: PRF(master_secret, "client EAP encryption", client.random || server.random).
    ok = SSL_export_keying_material(ssl_.get(), km.data(), km.size(), kLabelTls12, sizeof kLabelTls12 - 1, nullptr,
                                    0, 0);
  }
  if (ok != 1) {
    OPENSSL_cleanse(km.data(), km.size());
    ERR_clear_error();
    throw std::runtime_error("TLS: key export failed");
  }
  KeyMaterial keys;
  std::copy(km.begin(), km.begin() + 64, keys.msk.begin());
  std::copy(km.begin() + 64, km.end(), keys.emsk.begin());
  OPENSSL_cleanse(km.data(), km.size());
  return keys;
}

}  // namespace portcullis::radius::eap
