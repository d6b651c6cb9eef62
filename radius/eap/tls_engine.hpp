// The server side of TLS for EAP-TLS (RFC 5216) and EAP-TLS 1.3 (RFC 9190) over OpenSSL
// memory BIOs: TLS bytes in, TLS bytes out, no I/O.
//
// TlsServerConfig is built once and shared by every conversation (it owns the SSL_CTX, so
// the session cache and the ticket keys are shared too). TlsEngine is one conversation.
//
// Authorization: the client certificate is REQUIRED, and the ledger alone decides whether
// it is one of ours: its exact DER (SHA-256 over it) must be a certificate we issued, and
// anything but `good` (unknown, revoked, expired, device disabled) fails the conversation
// with the verdict as the reason. No chain is built: we signed those very bytes, so a walk
// to a root adds nothing, and a root as trust anchor would let any other CA under it
// (a sibling under an enterprise root) issue a look-alike certificate (docs/security.md).
// The handshake's own proof of possession (CertificateVerify, RFC 8446 §4.4.3, RFC 5246
// §7.4.8) is OpenSSL's and untouched. This runs on every handshake, resumed ones included:
// on resumption OpenSSL restores the peer certificate from the session and we take the
// ledger's verdict again (RFC 5216 §5.7, RFC 9190 §5.7), so a revoked certificate never
// resumes.
#pragma once

#include "ca/identity_index.hpp"
#include "ca/x509.hpp"
#include "radius/eap/log_sink.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace portcullis::ca {
class Authority;
}

namespace portcullis::radius::eap {

struct TlsServerOptions {
  bool enable_tls12 = true;   // RFC 5216
  bool enable_tls13 = true;   // RFC 9190
  bool session_resumption = true;                 // TLS 1.2 session IDs + tickets, TLS 1.3 tickets
  long session_cache_size = 20000;                // server-side cache entries (TLS 1.2 session IDs)
  std::chrono::seconds session_lifetime{3600};    // cache and ticket lifetime
  std::function<ca::UnixTime()> clock;            // for the identity lookup; empty = system clock
};

class TlsServerConfig {
 public:
  // `server_chain`: intermediates sent after the server certificate (not the root).
  // `client_ca_names`: the issuing CAs named in CertificateRequest (RFC 8446 §4.2.4,
  // RFC 5246 §7.4.4), a hint that lets supplicants (Windows in particular) pick the right
  // certificate. They are not trust anchors: the ledger decides (see above).
  // `identities` must outlive the config. Throws std::invalid_argument or ca::OpenSslError.
  static std::shared_ptr<const TlsServerConfig> create(const X509* server_cert, EVP_PKEY* server_key,
                                                       const std::vector<const X509*>& server_chain,
                                                       const std::vector<const X509*>& client_ca_names,
                                                       const ca::IdentityView& identities,
                                                       TlsServerOptions options = {});
  // The usual wiring: ca::Authority's server certificate and key, its chain without the
  // root, and its issuing CA named to clients, with the staged next issuing CA (CA
  // rollover) named too when there is one.
  static std::shared_ptr<const TlsServerConfig> from_authority(const ca::Authority& authority,
                                                               const ca::IdentityView& identities,
                                                               TlsServerOptions options = {},
                                                               const ca::Authority* staged = nullptr);

  TlsServerConfig(const TlsServerConfig&) = delete;
  TlsServerConfig& operator=(const TlsServerConfig&) = delete;

  SSL_CTX* ctx() const { return ctx_.get(); }
  const ca::IdentityView& identities() const { return identities_; }
  const TlsServerOptions& options() const { return options_; }
  ca::UnixTime now() const;

 private:
  TlsServerConfig(const ca::IdentityView& identities, TlsServerOptions options);

  const ca::IdentityView& identities_;
  TlsServerOptions options_;
  ca::SslCtxPtr ctx_;
};

// RFC 5216 §2.3 / RFC 9190 §2.3: Key_Material[0..63] = MSK, [64..127] = EMSK.
struct KeyMaterial {
  std::array<std::uint8_t, 64> msk{};
  std::array<std::uint8_t, 64> emsk{};

  KeyMaterial() = default;
  KeyMaterial(const KeyMaterial&) = default;
  KeyMaterial& operator=(const KeyMaterial&) = default;
  ~KeyMaterial();  // wipes both keys
};

// What we learned about the peer's certificate (also on failure, for the audit log).
struct TlsPeer {
  ca::Sha256 fingerprint{};  // SHA-256 over the DER: the ledger's key
  std::string serial_hex;
  std::string subject;
  std::string issuer;             // the issuer's name; only for a certificate the ledger does not know
  std::vector<std::string> sans;  // "DNS:x", "email:y", ... for policy rules (san = "...")
  ca::Identity identity;
};

enum class TlsStatus { need_more, handshake_done, failed };
const char* to_string(TlsStatus status);

class TlsEngine {
 public:
  explicit TlsEngine(std::shared_ptr<const TlsServerConfig> config, LogSink log = {});
  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;             // OpenSSL holds a pointer to us
  TlsEngine& operator=(const TlsEngine&) = delete;

  // Feeds one reassembled TLS message from the peer. Before the handshake completes this
  // advances it; afterwards the only acceptable input is nothing at all, so any record
  // (an alert, data) fails the engine. Output for the peer accumulates; see take_output().
  TlsStatus feed(std::span<const std::uint8_t> tls_bytes);

  // RFC 9190 §2.5: after the TLS 1.3 handshake (and after any NewSessionTicket, which
  // OpenSSL has already written by then) queue one application-data record holding the
  // single byte 0x00, the commitment not to send more handshake messages.
  void write_commitment();

  // TLS bytes to send to the peer (a flight, the commitment, or a fatal alert), drained.
  std::vector<std::uint8_t> take_output();

  TlsStatus status() const { return status_; }
  const std::string& failure_reason() const { return reason_; }
  // The failure as a term of the event vocabulary (failure_reason.hpp); "" until failed.
  const std::string& failure_code() const { return code_; }
  const std::optional<TlsPeer>& peer() const { return peer_; }

  // Valid once the handshake is done (version also after a failure late in the handshake).
  int version() const;               // TLS1_2_VERSION, TLS1_3_VERSION, 0 before negotiation
  std::string version_name() const;  // "TLSv1.2", "TLSv1.3", "" before negotiation
  bool resumed() const;
  KeyMaterial export_keys() const;   // throws std::logic_error before handshake_done

 private:
  friend class TlsServerConfig;  // installs decide_certificate on the SSL_CTX
  // SSL_CTX_set_cert_verify_callback: replaces OpenSSL's chain verification.
  static int decide_certificate(X509_STORE_CTX* store, void* unused);
  // The ledger's verdict on `cert` (and that it may authenticate a TLS client); records
  // peer_ and reason_, and the X509_V_ERR_* for the alert in verify_error_ on refusal.
  bool authorize(const X509* cert);
  bool authorize_session();                   // the same for the session's certificate
  // The reason and its vocabulary term (`code`: "" = from the alerts seen, else eap_protocol).
  TlsStatus fail(std::string reason, bool keep_alert, std::string code = {});
  // The first queued OpenSSL error (the root cause): its text, and its reason code.
  struct OpenSslError {
    std::string text;
    int reason = 0;
  };
  OpenSslError openssl_error() const;
  std::string openssl_reason() const { return openssl_error().text; }
  // SSL_CTX_set_info_callback: the first alert each side sent, for the failure's code.
  static void on_info(const SSL* ssl, int where, int ret);
  // Our issuing CAs' names (the client CA list): a certificate that names one of them as
  // its issuer but is not in the ledger is unknown_certificate, any other unknown_issuer.
  bool issued_by_us(const X509* cert) const;

  std::shared_ptr<const TlsServerConfig> config_;
  LogSink log_;
  ca::SslPtr ssl_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  BIO* wbio_ = nullptr;  // owned by ssl_
  TlsStatus status_ = TlsStatus::need_more;
  bool authorized_ = false;
  std::string reason_;
  std::string code_;
  std::optional<std::uint8_t> peer_alert_;  // fatal alert received from the client
  std::optional<std::uint8_t> our_alert_;   // fatal alert sent to it
  std::optional<TlsPeer> peer_;
  ca::X509Ptr checked_cert_;     // the certificate peer_ describes
  int verify_error_ = X509_V_OK;  // why authorize() refused, as OpenSSL's verify error
};

}  // namespace portcullis::radius::eap
