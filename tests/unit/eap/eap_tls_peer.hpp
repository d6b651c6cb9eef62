// A test-only EAP-TLS peer (supplicant): OpenSSL client SSL over memory BIOs, speaking
// RFC 5216 / RFC 9190 framing, so the server side can be driven end to end without
// sockets. It derives MSK/EMSK with the same exporter labels as the server.
#pragma once

#include "ca/x509.hpp"
#include "radius/eap/eap_packet.hpp"
#include "radius/eap/tls_engine.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace portcullis::radius::eap::testing {

struct PeerOptions {
  const X509* client_cert = nullptr;  // none: the peer sends no certificate
  EVP_PKEY* client_key = nullptr;
  const X509* trust_root = nullptr;   // verifies the server's chain
  // Further trusted certificates (e.g. the issuing CA of a root + issuing bundle), for a
  // server that sends only its leaf; the load generator reads these from --ca.
  std::vector<const X509*> more_trust;
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  std::size_t fragment_size = 1398;
  SSL_SESSION* resume = nullptr;      // offer this session
  bool no_tickets = false;            // TLS 1.2: session-ID resumption only
  bool length_on_unfragmented = false;
  std::string identity = "anonymous@example.net";
};

class EapTlsPeer {
 public:
  explicit EapTlsPeer(const PeerOptions& options);
  ~EapTlsPeer();
  EapTlsPeer(const EapTlsPeer&) = delete;
  EapTlsPeer& operator=(const EapTlsPeer&) = delete;

  // What a NAS forwards in the first Access-Request.
  Bytes identity_response(std::uint8_t identifier) const;
  // Answers one EAP packet from the server; std::nullopt after Success/Failure.
  std::optional<Bytes> respond(std::span<const std::uint8_t> eap_packet);

  bool handshake_done() const { return handshake_done_; }
  bool saw_success() const { return saw_success_; }
  bool saw_failure() const { return saw_failure_; }
  const std::vector<std::uint8_t>& app_data() const { return app_data_; }
  const std::string& tls_error() const { return tls_error_; }
  const std::vector<std::uint8_t>& request_flags() const { return request_flags_; }
  std::uint8_t last_response_id() const { return last_response_id_; }

  KeyMaterial keys() const;          // after the handshake, same labels as the server
  ca::SslSessionPtr session() const; // for resumption in a later conversation
  bool resumed() const;

 private:
  Bytes run_tls(std::span<const std::uint8_t> in);
  Bytes tls_response(std::uint8_t id, Bytes frame);
  Bytes next_fragment();

  PeerOptions options_;
  ca::SslCtxPtr ctx_;
  ca::SslPtr ssl_;
  BIO* rbio_ = nullptr;
  BIO* wbio_ = nullptr;
  bool handshake_done_ = false;
  bool saw_success_ = false;
  bool saw_failure_ = false;
  std::vector<std::uint8_t> app_data_;
  std::string tls_error_;
  std::vector<std::uint8_t> request_flags_;
  std::uint8_t last_response_id_ = 0;
  Bytes in_;
  Bytes out_;
  std::size_t out_pos_ = 0;
};

}  // namespace portcullis::radius::eap::testing
