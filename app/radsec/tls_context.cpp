#include "app/radsec/tls_context.hpp"

#include "app/http/tls_context.hpp"

#include <openssl/ssl.h>

#include <stdexcept>

namespace portcullis::app {

std::shared_ptr<boost::asio::ssl::context> make_radsec_tls_context(const std::string& cert_path,
                                                                   const std::string& key_path,
                                                                   const std::string& chain_path,
                                                                   const std::vector<const X509*>& client_ca_names,
                                                                   int (*verify)(X509_STORE_CTX*, void*), void* arg) {
  // The HTTP listeners' settings (TLS 1.2+, RFC 9325 AEAD suites, no renegotiation or
  // compression), which RFC 6614 §2.3 and the RADIUS/TLS bis draft ask for too.
  auto context = make_server_tls_context(cert_path, key_path, chain_path);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, verify, arg);
  // Every connection is a full handshake, so the ledger is asked at each one: a resumed
  // session would carry a certificate checked before a revocation.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx, 0);
  for (const X509* ca : client_ca_names)
    if (SSL_CTX_add_client_CA(ctx, const_cast<X509*>(ca)) != 1)
      throw std::runtime_error("cannot name a client CA in the RadSec TLS context");
  return context;
}

}  // namespace portcullis::app
