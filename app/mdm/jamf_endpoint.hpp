// POST /scep/challenge/jamf on the public listener: Jamf Pro's dynamic SCEP challenge. Jamf
// calls it (HTTP Basic, [mdm.jamf] user and password_file) each time it builds a profile
// and puts the text/plain answer into the profile's SCEP payload as the challenge: a fresh
// one-time challenge bound to no device, bound at first use to the device the CSR's CN
// names (scep::mint_unbound_challenge).
#pragma once

#include "app/http/types.hpp"
#include "ca/profile.hpp"
#include "ca/registry.hpp"
#include "ca/x509.hpp"

#include <atomic>
#include <cstdint>
#include <string>

namespace portcullis::app {

inline constexpr const char* kJamfChallengePath = "/scep/challenge/jamf";

struct JamfSettings {
  std::string user;
  std::string password;                  // never logged
  std::int64_t challenge_ttl_seconds = 3600;
  ca::Profile profile;                   // what the challenges enroll into
};

class JamfChallengeEndpoint {
 public:
  JamfChallengeEndpoint(JamfSettings settings, ca::Registry& registry);

  // Thread-safe: 200 text/plain with the challenge, 401 for missing or wrong
  // credentials, 405 for another method.
  HttpResponse handle(const HttpRequest& request);

  std::uint64_t minted() const { return minted_.load(); }
  std::uint64_t refused() const { return refused_.load(); }

 private:
  bool authorized(const HttpRequest& request) const;

  JamfSettings settings_;
  // SHA-256 of the expected user and password: compared digest to digest, so the time
  // taken says nothing of their content or length.
  ca::Sha256 user_digest_{}, password_digest_{};
  ca::Registry& registry_;
  std::atomic<std::uint64_t> minted_{0}, refused_{0};
};

}  // namespace portcullis::app
