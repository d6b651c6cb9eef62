// Re-enrolling many devices at once. An expired certificate cannot renew (RFC 8894
// §3.3.1.2 leaves renewal policy to the CA; here only a valid certificate signs a
// RenewalReq), so a device whose certificate expired needs a new one-time challenge: these
// find such devices and mint a challenge for each, all in one ledger transaction.
#pragma once

#include "ca/profile.hpp"
#include "ca/registry.hpp"
#include "scep/enrollment.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace portcullis::scep {

// At most this many challenges per call: a bulk mint is one transaction, and its answer
// (every secret) one response; a larger fleet is re-enrolled in slices.
inline constexpr std::size_t kMaxBulkChallenges = 1000;

// A device at the renewal dead end: its latest certificate of `profile` expired at
// `expired_at` and it holds no valid certificate of that profile.
struct ExpiredEnrollment {
  std::string device;
  std::string profile;
  std::string serial;          // the certificate that expired last
  ca::UnixTime expired_at = 0; // its notAfter
};

// Enabled devices with a certificate (of `profile`; any profile when empty) that expired
// within the last `days` days and no valid certificate of that profile now; one entry per
// device and profile, in device-name order. std::length_error when more than
// kMaxBulkChallenges match (the message says how many).
std::vector<ExpiredEnrollment> expired_enrollments(ca::Ledger& ledger, int days, const std::string& profile,
                                                   ca::UnixTime now);

struct ChallengeFor {
  std::string device;        // an existing device's name
  const ca::Profile* profile = nullptr;
};

// A one-time challenge bound to each device (as `portcullis challenge --device`), minted in ONE ledger
// transaction, each with its audit row: all or none. std::invalid_argument for a ttl outside
// 1 s .. 30 days, an empty list, more than kMaxBulkChallenges or a device named twice;
// ca::LedgerNotFound for a device that does not exist; ca::LedgerConflict for a disabled one
// or one check_not_squatted refuses.
std::vector<MintedChallenge> mint_challenges(ca::Registry& registry, const std::vector<ChallengeFor>& targets,
                                             std::int64_t ttl_seconds, const std::string& actor);

}  // namespace portcullis::scep
