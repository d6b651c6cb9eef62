#include "scep/reenrollment.hpp"

#include "ca/hex.hpp"
#include "ca/x509.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

namespace portcullis::scep {
namespace {

constexpr std::size_t kPage = 1000;

// Whether the device holds a valid certificate of `profile` now.
bool holds_valid(ca::Ledger& ledger, std::int64_t device_id, const std::string& profile, ca::UnixTime now) {
  ca::CertificateFilter valid;
  valid.device_id = device_id;
  valid.status = "valid";
  valid.now = now;
  for (valid.offset = 0;; valid.offset += kPage) {
    const auto page = ledger.list_certificates(valid);
    if (std::any_of(page.begin(), page.end(), [&](const auto& c) { return c.profile == profile; })) return true;
    if (page.size() < kPage) return false;
  }
}

}  // namespace

std::vector<ExpiredEnrollment> expired_enrollments(ca::Ledger& ledger, int days, const std::string& profile,
                                                   ca::UnixTime now) {
  if (days <= 0) throw std::invalid_argument("the window must be at least one day");
  // The latest expired certificate per (device, profile).
  std::map<std::pair<std::int64_t, std::string>, ca::CertificateRecord> latest;
  ca::CertificateFilter expired;
  expired.status = "expired";
  expired.now = now;
  expired.not_after_from = now - static_cast<ca::UnixTime>(days) * 86400;
  expired.limit = kPage;
  for (expired.offset = 0;; expired.offset += kPage) {
    const auto page = ledger.list_certificates(expired);
    for (const auto& c : page) {
      if (!profile.empty() && c.profile != profile) continue;
      auto& slot = latest[{c.device_id, c.profile}];
      if (slot.serial_hex.empty() || c.not_after > slot.not_after) slot = c;
    }
    if (page.size() < kPage) break;
  }
  std::vector<ExpiredEnrollment> out;
  for (const auto& [key, cert] : latest) {
    const auto device = ledger.find_device(key.first);
    if (!device || !device->enabled || holds_valid(ledger, key.first, key.second, now)) continue;
    out.push_back({device->name, key.second, cert.serial_hex, cert.not_after});
  }
  if (out.size() > kMaxBulkChallenges)
    throw std::length_error(std::to_string(out.size()) + " devices match, more than " +
                            std::to_string(kMaxBulkChallenges) + " per call");
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.device, a.profile) < std::tie(b.device, b.profile);
  });
  return out;
}

std::vector<MintedChallenge> mint_challenges(ca::Registry& registry, const std::vector<ChallengeFor>& targets,
                                             std::int64_t ttl_seconds, const std::string& actor) {
  if (ttl_seconds <= 0 || ttl_seconds > kMaxChallengeTtl)
    throw std::invalid_argument("challenge ttl must be 1 second to 30 days");
  if (targets.empty()) throw std::invalid_argument("no devices to mint challenges for");
  if (targets.size() > kMaxBulkChallenges)
    throw std::invalid_argument("at most " + std::to_string(kMaxBulkChallenges) + " challenges per call");
  std::set<std::string> seen;
  std::vector<ca::NewChallenge> rows;
  std::vector<MintedChallenge> out(targets.size());
  const ca::UnixTime expires_at = ca::now_unix() + ttl_seconds;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const ChallengeFor& t = targets[i];
    if (t.profile == nullptr) throw std::invalid_argument("no profile for device '" + t.device + "'");
    if (!seen.insert(t.device).second) throw std::invalid_argument("device '" + t.device + "' is named twice");
    // Existing devices only: this re-enrolls, and the identity index learns of new devices
    // through ca::Registry::create_device, not through the ledger's bulk write.
    const auto device = registry.ledger().find_device_by_name(t.device);
    if (!device) throw ca::LedgerNotFound("no device '" + t.device + "'");
    if (!device->enabled) throw ca::LedgerConflict("device '" + t.device + "' is disabled");
    check_not_squatted(registry, t.device);
    // 128 bits as 32 hex digits, as mint_challenge.
    out[i].secret = ca::to_lower_hex(ca::random_bytes(16));
    rows.push_back(ca::NewChallenge{challenge_hash(out[i].secret), t.device, t.profile->name, std::nullopt, {}, expires_at});
  }
  auto records = registry.ledger().mint_challenges(rows, actor);
  for (std::size_t i = 0; i < records.size(); ++i) out[i].record = std::move(records[i]);
  return out;
}

}  // namespace portcullis::scep
