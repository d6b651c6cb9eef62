// The OpenSSL library context EAP-TLS handshakes run in.
//
// OpenSSL 3.0 parses each certificate a client presents with a decoder chain that it builds
// anew, every time, from every decoder of every provider loaded in the certificate's
// library context (3.2 added a cache; 3.0 has none and no hook). In the default context
// that search is 1.2 M of the 6.4 M instructions of a full EAP-TLS 1.3 handshake
// (tests/bench/callgrind_radius.py), more than any signature in it.
//
// This context holds one provider, "portcullis-eap", that hands every operation to OpenSSL's
// own default provider (loaded in a private context) except decoders: of those it offers
// only the ones that read a DER SubjectPublicKeyInfo, which is all a certificate needs.
// The ciphers, signatures, key exchanges, KDFs and random generator are the default
// provider's very implementations, so TLS itself does not change: only the decoder search
// gets shorter. No PEM, PKCS#8 or other decoders exist here, so keys and certificates are
// read into the default context as before and handed to the SSL_CTX.
#pragma once

#include <openssl/types.h>

namespace portcullis::radius::eap {

// Built on first use, lives until the process exits (after the last SSL_CTX made with it).
OSSL_LIB_CTX* tls_library_context();

}  // namespace portcullis::radius::eap
