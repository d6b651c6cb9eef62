// [mdm.intune]: Microsoft Intune as a challenge source (scep/challenge_source.hpp), the
// way Microsoft's published client libraries talk to it (microsoft/Intune-Resource-Access,
// src/CsrValidation; app/mdm/intune_client.hpp):
//  - validate: ScepRequestValidationFEService ScepActions/validateRequest with the
//    transaction id and the base64 CSR; only the answer code "Success" allows. The SCEP
//    worker waits at most `timeout` (token, discovery and the call together).
//  - confirm: ScepActions/successNotification with the certificate's thumbprint, serial,
//    expiry and issuer, before the CertRep goes out; anything but "Success" withdraws it.
//  - notify: ScepActions/failureNotification (an HRESULT and a short description) for every
//    refusal after Intune validated the request, from a thread of its own.
// An allowed CSR's SID URI SAN (tag:microsoft.com,2022-09-14:sid:<SID>, Intune's strong
// mapping) is carried into the certificate.
#pragma once

#include "app/mdm/delivery_queue.hpp"
#include "app/mdm/intune_client.hpp"
#include "scep/challenge_source.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace portcullis::app {

inline constexpr const char* kIntuneSidUriPrefix = "tag:microsoft.com,2022-09-14:sid:";

struct IntuneSourceSettings {
  std::chrono::milliseconds timeout{10000};      // each call a SCEP worker waits for
  std::vector<std::string> groups = {"intune"};  // of a device an Intune enrollment creates
  std::size_t notify_queue = 1000;               // failure notifications waiting to be sent
  int notify_attempts = 3;
};

// The CSR's SANs (ChallengeQuery::sans) that are Intune SID URIs with a well-formed SID
// ("uri:tag:microsoft.com,2022-09-14:sid:S-1-5-21-…").
std::vector<std::string> intune_sid_sans(const std::vector<std::string>& sans);

class IntuneSource : public scep::ChallengeSource {
 public:
  IntuneSource(std::shared_ptr<IntuneClient> client, IntuneSourceSettings settings);
  ~IntuneSource() override;   // stops the notification thread; what is still queued is dropped, logged
  IntuneSource(const IntuneSource&) = delete;
  IntuneSource& operator=(const IntuneSource&) = delete;

  std::string name() const override { return "intune"; }
  scep::ChallengeVerdict validate(const scep::ChallengeQuery& query) override;
  scep::Confirmation confirm(const scep::EnrollmentOutcome& issued) override;
  void notify(const scep::EnrollmentOutcome& outcome) override;

 private:
  // The answer's "code" of a ScepActions call; throws std::runtime_error with the reason.
  std::pair<std::string, std::string> scep_action(const std::string& action, const nlohmann::json& body);
  // One failureNotification (on the queue's thread); true when Intune answered at all.
  bool try_failure_notification(const nlohmann::json& body, int attempt);

  std::shared_ptr<IntuneClient> client_;
  IntuneSourceSettings settings_;
  // failureNotification bodies; last, so that its thread, which calls Intune through the
  // members above, is stopped first.
  DeliveryQueue<nlohmann::json> queue_;
};

// The base64 DER inside a PEM block (what Intune calls the "base 64 encoded PKCS10").
std::string pem_body_base64(const std::string& pem);

}  // namespace portcullis::app
