// Which NAS is at the other end of a RadSec connection (RFC 6614 §2.3): the client
// certificate names it, not the source address. Two kinds of certificate are accepted:
//   - ours: the exact certificate is in the ledger (by SHA-256 fingerprint, through the
//     identity index the EAP-TLS path uses), valid, not revoked, its device enabled, in
//     the `nas` profile; its device name is the client's certificate_name;
//   - one from a CA configured for that client (trusted_ca): the chain verifies to that CA
//     for TLS client use, and the certificate's CN or a DNS SAN is the certificate_name.
// No I/O; called from the TLS handshake's verify callback and again whenever the ledger
// changes (a revocation closes the NAS's connections).
#pragma once

#include "ca/identity_index.hpp"
#include "ca/profile.hpp"
#include "ca/x509.hpp"
#include "radius/clients.hpp"

#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace portcullis::radius::radsec {

// RFC 6614 §2.3: over TLS the RADIUS shared secret is this fixed string.
inline constexpr const char* kRadsecSecret = "radsec";
using ca::kNasProfile;  // the profile `portcullis nas certificate` issues in

struct RadsecClient {
  NasClient nas;                              // its secret is kRadsecSecret
  std::string certificate_name;
  std::optional<IpPrefix> source;             // set: connections from elsewhere are refused
  std::shared_ptr<X509_STORE> trusted_ca;     // null: only certificates of ours
  // RFC 9765 §3.3 "1.1" for this NAS: a connection that did not negotiate RADIUS/1.1 is closed.
  bool require_radius_1_1 = false;
  // Disconnect/CoA when the NAS has no connection up: over UDP to nas.coa_port with this
  // secret (RFC 5176). Empty: no fallback.
  std::string coa_secret;
  // false: Disconnect/CoA never go down the connection, only over UDP as above. For a NAS
  // that drops requests it did not originate (radsecproxy 1.9), where a request on the
  // connection would wait its whole timeout and never fall back.
  bool dynauth_over_connection = true;
};

struct PeerVerdict {
  const RadsecClient* client = nullptr;       // null: refused
  std::string reason;                         // why refused, in words, for the log and the event
  const char* code = "";                      // why refused, the event vocabulary (docs/events.md)
  int verify_error = 0;                       // X509_V_ERR_* for the TLS alert when refused
  std::array<std::uint8_t, 32> fingerprint{}; // SHA-256 of the certificate
  bool ours = false;                          // issued by us (re-checked against the ledger)
  // Who presented it, for the refusal event: subject CN, serial (uppercase hex), issuer
  // (RFC 2253), and for ours the device it was issued to.
  std::string cn, serial, issuer, device;
  std::string nas;                            // the client it names, refused or not ("" if none)
};

class RadsecClients {
 public:
  // Throws std::invalid_argument for an empty or repeated certificate_name.
  void add(RadsecClient client);
  std::size_t size() const { return clients_.size(); }

  // `chain`: the further certificates the peer sent (may be null).
  PeerVerdict authorize(X509* cert, STACK_OF(X509)* chain, const IpAddress& source, const ca::IdentityView& identities,
                        ca::UnixTime now) const;
  // A connection already up: is the certificate that authorised it still good? For ours the
  // ledger is asked again (revoked, device disabled, expired); a foreign one was checked by
  // its CA at the handshake and only its validity period is left to look at, by OpenSSL.
  bool still_good(const PeerVerdict& verdict, const ca::IdentityView& identities, ca::UnixTime now) const;
  // The client whose NAS is named `nas_name` (NasClient::name); null when none.
  const RadsecClient* by_nas(const std::string& nas_name) const;

 private:
  const RadsecClient* by_name(const std::string& name) const;
  PeerVerdict authorize_ours(PeerVerdict verdict, const ca::Identity& identity, const IpAddress& source) const;
  PeerVerdict authorize_foreign(PeerVerdict verdict, X509* cert, STACK_OF(X509)* chain, const IpAddress& source) const;

  std::map<std::string, RadsecClient> clients_;  // by certificate_name
};

}  // namespace portcullis::radius::radsec
