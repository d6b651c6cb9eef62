// Challenges Portcullis did not mint (RFC 8894 §2.3 leaves the challengePassword's meaning
// to the CA): an MDM's per-device challenge is decided by whoever issued it, asked here.
// scep/ holds only the interface; the implementations that talk to webhooks and MDM
// services live in app/mdm/. A challenge Portcullis minted itself (one-time, the static
// one) never reaches a source.
#pragma once

#include "scep/pki_message.hpp"

#include <string>
#include <vector>

namespace portcullis::scep {

// What a source sees of a PKCSReq whose challenge the ledger does not know.
struct ChallengeQuery {
  std::string challenge;                 // the challengePassword as sent; never logged
  std::string transaction_id;            // RFC 8894 §3.2.1.1
  std::string csr_pem;                   // the PKCS#10 request, PEM
  std::string subject;                   // its subject, RFC 2253
  std::vector<std::string> sans;         // its requested SANs, "dns:x", "uri:y", "email:z", "ip:a"
  std::string requester;                 // the peer's address
};

struct ChallengeVerdict {
  enum class Kind {
    allow,        // the source vouches for the request
    deny,         // the source refuses it
    unavailable,  // the source could not answer (timeout, transport error, bad answer)
    abstain,      // the source does not decide challenges (a notification-only webhook)
  };
  Kind kind = Kind::abstain;
  std::string device;                    // allow: the device to bind; empty: the CSR's CN
  std::vector<std::string> groups;       // allow: groups of a device created for it
  std::string reason;                    // deny/unavailable: why, safe to show and log
  // allow: SANs of the CSR the source checked and vouches for ("uri:…"), carried into the
  // certificate after the profile's templates, as an operator's pinned SANs are.
  std::vector<std::string> sans;
  // deny: the CertRep's failInfo (RFC 8894 §3.2.1.4); a source that knows why (an expired
  // challenge is badTime) says so.
  FailInfo fail_info = FailInfo::bad_request;

  static ChallengeVerdict allowed(std::string device, std::vector<std::string> groups) {
    return {Kind::allow, std::move(device), std::move(groups), {}, {}, FailInfo::bad_request};
  }
  static ChallengeVerdict denied(std::string reason, FailInfo info = FailInfo::bad_request) {
    return {Kind::deny, {}, {}, std::move(reason), {}, info};
  }
  static ChallengeVerdict failed(std::string reason) {
    return {Kind::unavailable, {}, {}, std::move(reason), {}, FailInfo::bad_request};
  }
  static ChallengeVerdict none() { return {}; }
};

// The outcome of an enrollment (PKCSReq or RenewalReq), told to every source.
struct EnrollmentOutcome {
  bool success = false;
  std::string outcome;                   // "issued", "renewed", "approved" or "refused"
  std::string transaction_id;
  std::string device;
  std::string decided_by;                // the source that allowed it; empty: decided locally
  std::string serial;                    // success: hex serial
  std::string fingerprint;               // success: hex SHA-256 of the DER, as the ledger keeps it
  std::string certificate_pem;           // success
  std::string reason;                    // failure: failInfo and reason
  std::string code;                      // failure: the refusal's term, as its event's reason
  std::string csr_pem;                   // the request's PKCS#10 as received; empty for a poll
};

// A source's answer when told of a certificate it allowed, before the CertRep goes out.
struct Confirmation {
  bool accepted = true;
  std::string reason;                    // not accepted: why, safe to show and log
};

class ChallengeSource {
 public:
  virtual ~ChallengeSource() = default;
  // For logs and events: "webhook https://mdm.example/scep", "jamf", …
  virtual std::string name() const = 0;
  // Called on the SCEP worker; must return within the source's own timeout.
  virtual ChallengeVerdict validate(const ChallengeQuery& query) = 0;
  // Called on the SCEP worker once a certificate this source allowed is committed, before
  // the CertRep carrying it is sent; must return within the source's own timeout. Not
  // accepted: the certificate is revoked and the requester gets FAILURE, so no device holds
  // a certificate the source was not told of (an MDM that tracks what it enrolled).
  virtual Confirmation confirm(const EnrollmentOutcome& issued) {
    (void)issued;
    return {};
  }
  // Called on the SCEP worker after the decision; must not block on the network.
  virtual void notify(const EnrollmentOutcome& outcome) = 0;
};

}  // namespace portcullis::scep
