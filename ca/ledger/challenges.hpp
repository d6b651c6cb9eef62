// One-time SCEP challenge passwords (RFC 8894 §2.3), bound to a device and a profile.
#pragma once

#include "ca/records.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::ca {

// One-time SCEP challenge passwords (RFC 8894 §2.3). Only the hash of the secret is stored.
struct NewChallenge {
  std::string secret_hash;          // lowercase hex SHA-256 of the secret
  // Created when missing: an MDM mints before the device exists. Empty: the challenge is
  // bound at its first use to the device that use names (an MDM's dynamic challenge).
  std::string device_name;
  std::string profile;
  std::optional<std::string> cn;    // when set, the CSR's CN must equal it, and the certificate names it
  std::vector<std::string> sans;    // SANs the certificate will carry ("dns:NAME", "email:ADDR", "uri:URI")
  UnixTime expires_at = 0;
};

struct ChallengeRecord {
  std::int64_t id = 0;
  std::string secret_hash;
  std::int64_t device_id = 0;       // 0 and "": not bound to a device yet
  std::string device_name;
  std::string profile;
  std::optional<std::string> cn;
  std::vector<std::string> sans;
  std::string created_by;
  UnixTime created_at = 0;
  UnixTime expires_at = 0;
  std::optional<UnixTime> used_at;
};

// Minting and looking up challenges; they are redeemed inside an issuance (DeviceRef).
class ChallengeStore {
 public:
  virtual ~ChallengeStore() = default;

  // One transaction: the device (created when missing), the challenge row, the audit row.
  virtual ChallengeRecord mint_challenge(const NewChallenge& challenge, const std::string& actor) = 0;
  // Many at once in ONE transaction (all or nothing): every challenge is checked before
  // any write, and a conflict on one leaves none minted. An audit row per challenge.
  virtual std::vector<ChallengeRecord> mint_challenges(const std::vector<NewChallenge>& challenges,
                                                       const std::string& actor) = 0;
  virtual std::optional<ChallengeRecord> find_challenge(const std::string& secret_hash) = 0;
};

}  // namespace portcullis::ca
