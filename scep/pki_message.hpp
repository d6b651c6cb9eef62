// SCEP pkiMessage handling (RFC 8894 §3): bytes in, bytes out, no I/O.
//
// A request is a CMS SignedData (signed by the requester) whose content is an
// EnvelopedData encrypted to our RA certificate; inside is the messageData (a CSR for
// PKCSReq/RenewalReq, IssuerAndSubject for CertPoll, IssuerAndSerial for GetCert/GetCRL).
// The reply (CertRep) is a SignedData signed by the RA key, carrying for SUCCESS an
// EnvelopedData encrypted back to the requester's signing certificate.
#pragma once

#include "ca/x509.hpp"

#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace portcullis::scep {

// RFC 8894 §3.2.1.2 messageType.
enum class MessageType : int {
  cert_rep = 3,
  renewal_req = 17,
  pkcs_req = 19,
  cert_poll = 20,   // GetCertInitial in draft-nourse
  get_cert = 21,
  get_crl = 22,
};
const char* to_string(MessageType type);

// RFC 8894 §3.2.1.3 pkiStatus and §3.2.1.4 failInfo.
enum class PkiStatus : int { success = 0, failure = 2, pending = 3 };
enum class FailInfo : int { bad_alg = 0, bad_message_check = 1, bad_request = 2, bad_time = 3, bad_cert_id = 4 };
const char* to_string(FailInfo info);

// Not even a CMS SignedData with the SCEP attributes: no CertRep can be formed (HTTP 400).
class MalformedMessage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CryptoPolicy {
  // Single DES content encryption and SHA-1 digests (micromdm scepclient 2.1.0 uses both).
  bool allow_legacy_crypto = false;
};

// Loads the OpenSSL "legacy" provider (single DES) next to "default", once per process.
// Throws std::runtime_error when the provider is not installed.
void enable_legacy_crypto();

// A request after parsing. When `failure` is set the message was readable enough to
// answer (transactionID, senderNonce) but must be answered with FAILURE `failure`.
struct PkiRequest {
  MessageType type = MessageType::pkcs_req;
  std::string transaction_id;
  ca::Bytes sender_nonce;
  int digest_nid = 0;          // of the request's signature: the reply uses the same
  int cipher_nid = 0;          // content cipher of the request's envelope: the reply uses the same
  // The requester's signing certificate (self-signed or ours), usable for its key (the
  // signature check, the reply's encryption) and its names and serial. It may come from a
  // key-less parse: anything that computes in the certificate's own library context
  // (X509_verify, X509_digest) takes a full parse of signer_der instead.
  ca::X509Ptr signer;
  ca::Bytes signer_der;        // that certificate's DER as received
  // Lowercase hex SHA-256 of the signer's certificate (DER): with the transactionID, what
  // identifies a transaction. Not the key alone: micromdm scepclient derives the
  // transactionID from its key and keeps the key when renewing.
  std::string requester_sha256;

  ca::Bytes message_data;      // decrypted pkcsPKIEnvelope content
  ca::X509ReqPtr csr;          // PKCSReq / RenewalReq
  std::string challenge_password;     // from the CSR (RFC 2985 §5.4.1); may be empty
  std::string requested_serial_hex;   // GetCert / GetCRL: IssuerAndSerialNumber's serial
  ca::X509NamePtr requested_issuer;   // GetCert / GetCRL: IssuerAndSerialNumber's issuer

  std::optional<FailInfo> failure;
  std::string failure_reason;  // for the log; never contains secrets
};

// Parses, verifies the requester's signature and decrypts with the RA key.
// Throws MalformedMessage only when no CertRep can be formed.
PkiRequest parse_request(std::span<const std::uint8_t> der, const X509* ra_cert, EVP_PKEY* ra_key,
                         const CryptoPolicy& policy);

struct CertRep {
  PkiStatus status = PkiStatus::failure;
  FailInfo fail_info = FailInfo::bad_request;     // FAILURE only
  std::vector<const X509*> certificates;           // SUCCESS: the issued certificate first
  const X509_CRL* crl = nullptr;                   // SUCCESS for GetCRL: the CRL instead (§3.3.4)
};

// The signed (and for SUCCESS, encrypted) reply to `request`.
ca::Bytes build_cert_rep(const PkiRequest& request, const CertRep& rep, const X509* ra_cert, EVP_PKEY* ra_key);

// A degenerate certs-only PKCS#7 SignedData (RFC 8894 §3.4; RFC 2315 §9.1), certificates
// in the given order and no content: the GetCACert answer and the CertRep payload.
ca::Bytes degenerate_pkcs7(std::span<const X509* const> certificates);
// The GetNextCACert answer (RFC 8894 §4.7.1): SignedData over id-data, signed by the
// current RA, whose content is the degenerate PKCS#7 of the next RA and CA certificates;
// `current_chain` rides along so a client holding only the root can check the signer.
ca::Bytes next_ca_message(std::span<const X509* const> next_certificates, const X509* ra_cert, EVP_PKEY* ra_key,
                          std::span<const X509* const> current_chain);
// The same with one CRL in the crls field and no certificates: the GetCRL answer's payload
// (RFC 8894 §3.3.4).
ca::Bytes degenerate_pkcs7_crl(const X509_CRL* crl);

}  // namespace portcullis::scep
