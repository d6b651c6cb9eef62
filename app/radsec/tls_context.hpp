// The RadSec listener's TLS settings (RFC 6614 §2.3): TLS 1.2 and 1.3 only, the server
// certificate EAP-TLS presents, and a client certificate required, checked by `verify`
// (radius/radsec/peer_auth.hpp) instead of a fixed trust store: a NAS certificate of ours is
// trusted by the ledger, a foreign one by the CA configured for its client.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

namespace portcullis::app {

// `verify`: SSL_CTX_set_cert_verify_callback's callback and its argument. `client_ca_names`:
// the CAs named to the client in the CertificateRequest (ours, and configured ones), so a
// NAS with several certificates picks the right one.
std::shared_ptr<boost::asio::ssl::context> make_radsec_tls_context(const std::string& cert_path,
                                                                   const std::string& key_path,
                                                                   const std::string& chain_path,
                                                                   const std::vector<const X509*>& client_ca_names,
                                                                   int (*verify)(X509_STORE_CTX*, void*), void* arg);

}  // namespace portcullis::app
