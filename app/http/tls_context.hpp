// Server-side TLS settings for the HTTP listeners (the admin API, and the public one when
// TLS is configured there): TLS 1.2 and 1.3 only, forward-secret AEAD cipher suites.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

namespace portcullis::app {

// cert_path: the server certificate (PEM; further certificates in it are sent as chain).
// key_path: its private key (PEM). chain_path: intermediates to send after it (PEM, may be
// empty; self-signed roots in it are skipped, the client must already have them).
// Throws std::runtime_error naming the file that could not be used.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const std::string& cert_path,
                                                                   const std::string& key_path,
                                                                   const std::string& chain_path);

}  // namespace portcullis::app
