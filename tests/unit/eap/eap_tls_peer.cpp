#include "eap_tls_peer.hpp"

#include "radius/eap/tls_fragments.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <stdexcept>

namespace portcullis::radius::eap::testing {
namespace {

std::string drain_errors() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  const char* text = e != 0 ? ERR_reason_error_string(e) : nullptr;
  return text != nullptr ? text : "unknown TLS error";
}

}  // namespace

EapTlsPeer::EapTlsPeer(const PeerOptions& options) : options_(options) {
  ctx_.reset(ca::check_ptr(SSL_CTX_new(TLS_client_method()), "SSL_CTX_new"));
  ca::check(SSL_CTX_set_min_proto_version(ctx_.get(), options_.min_version), "min");
  ca::check(SSL_CTX_set_max_proto_version(ctx_.get(), options_.max_version), "max");
  if (options_.no_tickets) SSL_CTX_set_options(ctx_.get(), SSL_OP_NO_TICKET);
  if (options_.trust_root != nullptr) {
    ca::check(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_.get()), const_cast<X509*>(options_.trust_root)),
              "trust");
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
  }
  for (const X509* extra : options_.more_trust) {
    ca::check(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_.get()), const_cast<X509*>(extra)), "trust");
  }
  if (options_.client_cert != nullptr) {
    ca::check(SSL_CTX_use_certificate(ctx_.get(), const_cast<X509*>(options_.client_cert)), "cert");
    ca::check(SSL_CTX_use_PrivateKey(ctx_.get(), options_.client_key), "key");
  }
  ssl_.reset(ca::check_ptr(SSL_new(ctx_.get()), "SSL_new"));
  ca::BioPtr rbio(ca::check_ptr(BIO_new(BIO_s_mem()), "bio"));
  ca::BioPtr wbio(ca::check_ptr(BIO_new(BIO_s_mem()), "bio"));
  BIO_set_mem_eof_return(rbio.get(), -1);
  rbio_ = rbio.get();
  wbio_ = wbio.get();
  SSL_set_bio(ssl_.get(), rbio.release(), wbio.release());
  SSL_set_connect_state(ssl_.get());
  if (options_.resume != nullptr) ca::check(SSL_set_session(ssl_.get(), options_.resume), "SSL_set_session");
}

EapTlsPeer::~EapTlsPeer() {
  // Like a supplicant that keeps its session for next time: without this, SSL_free()
  // marks a session that never saw close_notify as not resumable.
  if (handshake_done_) SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

Bytes EapTlsPeer::identity_response(std::uint8_t identifier) const {
  const auto* p = reinterpret_cast<const std::uint8_t*>(options_.identity.data());
  return build_response(identifier, Type::identity, std::span<const std::uint8_t>(p, options_.identity.size()));
}

std::optional<Bytes> EapTlsPeer::respond(std::span<const std::uint8_t> eap_packet) {
  ParseResult parsed = parse_packet(eap_packet);
  if (!parsed.packet) throw std::runtime_error("peer: bad packet from server: " + parsed.error);
  const Packet& p = *parsed.packet;
  if (p.code == Code::success) {
    saw_success_ = true;
    return std::nullopt;
  }
  if (p.code == Code::failure) {
    saw_failure_ = true;
    return std::nullopt;
  }
  if (p.code != Code::request) throw std::runtime_error("peer: server sent a Response");
  last_response_id_ = p.identifier;
  if (p.type == static_cast<std::uint8_t>(Type::identity)) return identity_response(p.identifier);
  if (p.type != static_cast<std::uint8_t>(Type::tls)) throw std::runtime_error("peer: unexpected method");

  TlsFrameParse fp = parse_tls_frame(p.type_data);
  if (!fp.frame) throw std::runtime_error("peer: bad EAP-TLS frame: " + fp.error);
  const TlsFrame& f = *fp.frame;
  request_flags_.push_back(f.flags);

  if (out_pos_ < out_.size()) {
    if (!f.is_ack()) throw std::runtime_error("peer: expected the server's ACK");
    return tls_response(p.identifier, next_fragment());
  }
  Bytes out;
  if (f.start()) {
    out = run_tls({});
  } else {
    in_.insert(in_.end(), f.data.begin(), f.data.end());
    if (f.more()) return tls_response(p.identifier, tls_ack_frame());  // RFC 5216 §2.1.5
    Bytes message = std::move(in_);
    in_.clear();
    out = run_tls(message);
  }
  if (out.empty()) return tls_response(p.identifier, tls_ack_frame());
  out_ = std::move(out);
  out_pos_ = 0;
  return tls_response(p.identifier, next_fragment());
}

Bytes EapTlsPeer::run_tls(std::span<const std::uint8_t> in) {
  if (!in.empty()) BIO_write(rbio_, in.data(), static_cast<int>(in.size()));
  ERR_clear_error();
  if (!handshake_done_) {
    const int rc = SSL_do_handshake(ssl_.get());
    if (rc == 1) {
      handshake_done_ = true;
    } else if (SSL_get_error(ssl_.get(), rc) != SSL_ERROR_WANT_READ && tls_error_.empty()) {
      tls_error_ = drain_errors();
    }
  }
  if (handshake_done_) {
    // TLS 1.3: NewSessionTicket and the RFC 9190 §2.5 commitment arrive here.
    unsigned char buf[256];
    for (;;) {
      const int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n > 0) {
        app_data_.insert(app_data_.end(), buf, buf + n);
        continue;
      }
      const int err = SSL_get_error(ssl_.get(), n);
      if (err != SSL_ERROR_WANT_READ && tls_error_.empty()) tls_error_ = drain_errors();
      break;
    }
  }
  Bytes out(BIO_ctrl_pending(wbio_));
  if (!out.empty()) BIO_read(wbio_, out.data(), static_cast<int>(out.size()));
  return out;
}

Bytes EapTlsPeer::next_fragment() {
  const std::size_t remaining = out_.size() - out_pos_;
  const std::size_t take = std::min(remaining, options_.fragment_size);
  const bool more = take < remaining;
  std::optional<std::uint32_t> length;
  if (out_pos_ == 0 && (more || options_.length_on_unfragmented)) length = static_cast<std::uint32_t>(out_.size());
  Bytes frame = build_tls_frame(more ? kTlsFlagMore : 0, length,
                                std::span<const std::uint8_t>(out_).subspan(out_pos_, take));
  out_pos_ += take;
  if (!more) {
    out_.clear();
    out_pos_ = 0;
  }
  return frame;
}

Bytes EapTlsPeer::tls_response(std::uint8_t id, Bytes frame) { return build_response(id, Type::tls, frame); }

KeyMaterial EapTlsPeer::keys() const {
  std::uint8_t km[128];
  int ok = 0;
  if (SSL_version(ssl_.get()) == TLS1_3_VERSION) {
    static constexpr unsigned char ctx[] = {0x0D};
    static constexpr char label[] = "EXPORTER_EAP_TLS_Key_Material";
    ok = SSL_export_keying_material(ssl_.get(), km, sizeof km, label, sizeof label - 1, ctx, 1, 1);
  } else {
    static constexpr char label[] = "client EAP encryption";
    ok = SSL_export_keying_material(ssl_.get(), km, sizeof km, label, sizeof label - 1, nullptr, 0, 0);
  }
  if (ok != 1) throw std::runtime_error("peer: key export failed");
  KeyMaterial k;
  std::copy(km, km + 64, k.msk.begin());
  std::copy(km + 64, km + 128, k.emsk.begin());
  return k;
}

ca::SslSessionPtr EapTlsPeer::session() const { return ca::SslSessionPtr(SSL_get1_session(ssl_.get())); }

bool EapTlsPeer::resumed() const { return SSL_session_reused(ssl_.get()) == 1; }

}  // namespace portcullis::radius::eap::testing
