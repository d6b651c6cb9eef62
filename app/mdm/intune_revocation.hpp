// Intune's certificate revocation for a third-party CA (microsoft/Intune-Resource-Access,
// src/CsrValidation, the revocation client): on a timer, PkiConnectorFEService
// CertificateAuthorityRequests/downloadRevocationRequests hands out what Intune wants
// revoked (a device retired or wiped, a certificate revoked in the console); each matching
// certificate is revoked here through the registry (CRL, OCSP, and a Disconnect-Request
// for its live RADIUS sessions, RFC 5176), and uploadRevocationResults answers each
// request with success or the contract's error code.
#pragma once

#include "app/mdm/intune_client.hpp"
#include "app/mdm/intune_codes.hpp"
#include "ca/event.hpp"
#include "ca/registry.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace portcullis::app {

struct IntuneRevocationRequest {
  std::string request_context;   // echoed in the result
  std::string serial_number;
  std::string issuer_name;       // optional
};

struct IntuneRevocationResult {
  std::string request_context;
  IntuneRevocationError error = IntuneRevocationError::none;
  std::string message;           // empty on success
};

// What Intune may revoke: certificates of the profile its enrollments use, held by a
// device in one of the groups its enrollments create. Not a NAS certificate, not one
// another challenge source or an operator issued under another profile.
struct IntuneRevocationScope {
  std::string profile;
  std::vector<std::string> groups;
};

// One request against the ledger: revokes the certificate (cessationOfOperation, actor
// "intune") when it is ours, valid and within `scope`. Never throws.
IntuneRevocationResult revoke_for_intune(const IntuneRevocationRequest& request, ca::Registry& registry,
                                         ca::EventSink* events, const IntuneRevocationScope& scope);

struct IntuneRevocationSettings {
  std::chrono::seconds interval{300};
  int batch = 100;                               // maxRequests, 1..500
  std::chrono::milliseconds timeout{10000};      // each call
  IntuneRevocationScope scope;
};

class IntuneRevocationSync {
 public:
  IntuneRevocationSync(std::shared_ptr<IntuneClient> client, ca::Registry& registry, ca::EventSink* events,
                       IntuneRevocationSettings settings);
  ~IntuneRevocationSync();   // stops the timer thread
  IntuneRevocationSync(const IntuneRevocationSync&) = delete;
  IntuneRevocationSync& operator=(const IntuneRevocationSync&) = delete;

  // One round: download, revoke, upload. Returns how many requests it answered; throws
  // std::runtime_error when Intune cannot be reached or answers nonsense.
  std::size_t sync_once();

 private:
  void run();

  std::shared_ptr<IntuneClient> client_;
  ca::Registry& registry_;
  ca::EventSink* events_;
  IntuneRevocationSettings settings_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;   // guarded by mutex_
  std::thread thread_;
};

}  // namespace portcullis::app
