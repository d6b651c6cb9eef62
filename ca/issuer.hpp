// The only path to a signature: issue(CSR, profile, names, device) -> certificate plus
// ledger row, in one transaction. SCEP, the admin API, the CLI and the service's own
// certificates (init) all come through here.
#pragma once

#include "ca/authority.hpp"
#include "ca/issued_names.hpp"
#include "ca/profile.hpp"
#include "ca/registry.hpp"

#include <stdexcept>
#include <string>

namespace portcullis::ca {

// The request itself is unacceptable (bad signature, CA:true, weak key, unknown profile…).
// The message is safe to show to the requester.
class IssuanceRejected : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct IssueRequest {
  std::string csr;          // PEM or DER
  // Optional: `csr` already parsed by the caller (SCEP has to, for the challenge). When
  // set it is what gets checked and issued, and `csr` is not parsed again: parsing runs
  // OpenSSL 3.0's key decoder, a large share of an enrollment's CPU. Must be `csr`.
  const X509_REQ* parsed_csr = nullptr;
  std::string profile = "device";
  // What the certificate names (ca/issued_names.hpp): from the device, the profile's
  // templates and the operator's pins, or a renewed certificate's names. Never the CSR's.
  IssuedNames names;
  DeviceRef device;
  std::string actor;        // for the audit log
};

struct IssueResult {
  X509Ptr certificate;
  CertificateRecord record;
  Device device;
  bool device_created = false;
  // What the CSR asked for ("OU=x", "dns:y") that the certificate does not carry: the
  // caller logs it, so a requester who tried to choose its names shows up.
  std::vector<std::string> left_out;
};

struct IssuerUrls {
  std::string crl_url;      // CRL distribution point (RFC 5280 §4.2.1.13)
  std::string ocsp_url;     // AIA id-ad-ocsp (RFC 5280 §4.2.2.1)
};

// The CA that signs: its certificate (issuer name, key identifier, validity bound), key
// and digest. An Authority's issuing CA, or one being set up (init, a staged rollover).
struct SigningCa {
  const X509* certificate = nullptr;
  EVP_PKEY* key = nullptr;
  const EVP_MD* digest = nullptr;
};

class Issuer {
 public:
  Issuer(const Authority& authority, Profiles profiles, IssuerUrls urls, Registry& registry);
  Issuer(SigningCa ca, Profiles profiles, IssuerUrls urls, Registry& registry);

  // Throws IssuanceRejected for bad input, LedgerNotFound/LedgerConflict for device problems.
  // Thread-safe. Retries with a fresh serial on the (astronomically rare) DuplicateSerial.
  IssueResult issue(const IssueRequest& request);
  // The same CSR and profile checks as issue(), without signing or writing anything:
  // for a request that waits for approval (RFC 8894 §3.3.2 PENDING). IssuanceRejected.
  void check(const IssueRequest& request) const;

  const Profiles& profiles() const { return profiles_; }
  // The profile's templates for `device`, its CN `cn` and the pinned SANs
  // (ca/issued_names.hpp). IssuanceRejected for an unknown profile.
  IssuedNames names_for(const std::string& profile, const std::string& device, const std::string& cn,
                        const std::vector<std::string>& pinned_sans) const;

 private:
  struct Checked;
  Checked checked(const IssueRequest& request) const;

  SigningCa ca_;
  Profiles profiles_;
  IssuerUrls urls_;
  Registry& registry_;
};

// 128 bits from the CSPRNG, top bit clear (positive INTEGER, RFC 5280 §4.1.2.2), second bit
// set so every serial is exactly 16 bytes.
Bytes random_serial();

}  // namespace portcullis::ca
