// SCEP enrollment policy (RFC 8894 §3.3): which requests get a certificate, for which
// device, profile and names, and what the CertRep says otherwise. Bytes in, bytes out; all
// issuance goes through ca::Issuer.
#pragma once

#include "ca/authority.hpp"
#include "ca/crl.hpp"
#include "ca/event.hpp"
#include "ca/issuer.hpp"
#include "ca/registry.hpp"
#include "scep/challenge_source.hpp"
#include "scep/pki_message.hpp"
#include "scep/refusal_audit.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace portcullis::scep {

// Devices the static challenge created join this group: their names were the requester's
// choice, so an operator (and policy) can tell them from devices an operator named.
inline constexpr const char* kStaticGroup = "scep-static";
// Devices an unbound one-time challenge (an MDM's dynamic challenge) created join this one:
// named by the CSR's CN too, but by a requester the MDM handed a challenge to.
inline constexpr const char* kMdmChallengeGroup = "scep-mdm";

struct EnrollmentSettings {
  std::string profile = "device";      // profile for static-challenge enrollments
  std::string static_challenge;        // empty: only one-time challenges and renewals
  bool allow_legacy_crypto = false;
  RefusalAuditSettings refusals;       // how refused requests reach the audit log
  ca::EventSink* events = nullptr;     // decision events; null: none. Must outlive the Enrollment
  // Asked in order about a challenge Portcullis did not mint (scep/challenge_source.hpp);
  // each hears every enrollment's outcome. Empty: such a challenge is wrong.
  std::vector<std::shared_ptr<ChallengeSource>> challenge_sources;
};

struct EnrollmentCounters {
  std::uint64_t issued = 0;            // new certificates (PKCSReq with a challenge)
  std::uint64_t renewed = 0;           // new certificates for a request signed by one of ours
  std::uint64_t repeated = 0;          // retransmissions and polls answered from the transaction
  std::uint64_t rejected = 0;          // CertRep FAILURE
  std::uint64_t malformed = 0;         // no CertRep possible (HTTP 400)
  std::uint64_t pending = 0;           // CertRep PENDING (manual approval, RFC 8894 §3.3.2)
  std::uint64_t certificates_sent = 0; // GetCert SUCCESS (RFC 8894 §3.3.4)
  std::uint64_t crls_sent = 0;         // GetCRL SUCCESS (RFC 8894 §3.3.4)
  // `rejected` split by failInfo (RFC 8894 §3.2.1.4), indexed by FailInfo.
  std::array<std::uint64_t, 5> rejected_by_fail_info{};
  // Of `rejected`: counted only, over the per-source audit limit (RefusalAudit), and audit
  // rows lost (queue full, ledger failing).
  std::uint64_t refusals_suppressed = 0;
  std::uint64_t refusal_rows_dropped = 0;

  // name -> value, for the admin API (`rejected_badRequest`, …).
  std::vector<std::pair<std::string, std::uint64_t>> named() const;
};

class Enrollment {
 public:
  // `crl`: what GetCRL answers with (RFC 8894 §3.3.4); without it GetCRL is refused.
  Enrollment(const ca::Authority& authority, ca::Issuer& issuer, ca::Registry& registry, EnrollmentSettings settings,
             const ca::CrlPublisher* crl = nullptr);

  // A PKIOperation message in, a CertRep out. Throws MalformedMessage when the message
  // cannot be answered with a CertRep. `source`: the peer's address, what refusals are
  // rate-limited by in the audit log. Thread-safe.
  ca::Bytes handle(std::span<const std::uint8_t> message, std::string_view source = {});

  EnrollmentCounters counters() const;
  const EnrollmentSettings& settings() const { return settings_; }
  RefusalAudit& refusal_audit() { return refusals_; }

 private:
  struct Decision;
  Decision decide(PkiRequest& request, std::string_view source);
  Decision enroll(PkiRequest& request, std::string_view source);
  // The answer a known transaction already has (certificate, PENDING, or the operator's
  // rejection); nullopt for a transaction we never saw.
  std::optional<Decision> from_transaction(const PkiRequest& request, bool poll);
  Decision issuer_and_serial(const PkiRequest& request);
  struct Target;
  Target target_of(const PkiRequest& request, const std::string& cn, std::string_view source);
  Target renewal_target(const PkiRequest& request);
  // Why a renewal is refused by its profile's renewal window; nullopt inside it.
  std::optional<std::string> too_early_to_renew(const std::string& profile, ca::UnixTime not_after,
                                                ca::UnixTime now) const;
  Target static_target(const std::string& cn);
  Target challenge_target(const PkiRequest& request, const std::string& cn, std::string_view source);
  Target unbound_challenge_target(const ca::ChallengeRecord& challenge, const std::string& cn);
  std::optional<Target> refuse_device_named_by_others(const std::string& cn);
  // A challenge the ledger does not know, put to settings_.challenge_sources in order.
  Target source_target(const PkiRequest& request, const std::string& cn, std::string_view source);
  void notify_sources(const PkiRequest& request, const Decision& decision);
  static EnrollmentOutcome outcome_of(const PkiRequest& request, const Decision& decision);
  // FAILURE (the certificate revoked) when the source that allowed the request does not
  // accept the certificate (ChallengeSource::confirm); nullopt when it does or none decided.
  std::optional<Decision> withdraw_unconfirmed(const PkiRequest& request, const Target& target,
                                               const Decision& issued, const std::string& cn);
  Decision issue_for(const PkiRequest& request, Target& target, const std::string& cn);
  // The device's other valid certificates of `profile`, revoked as superseded after a new
  // enrollment (ca::Profile::revoke_on_reenroll); returns their serials.
  std::vector<std::string> supersede_earlier(const ca::IssueResult& issued, const std::string& profile);
  void emit_superseded(const PkiRequest& request, std::string_view source, const Decision& decision);
  Decision hold_for_approval(const PkiRequest& request, const Target& target, const std::string& cn);
  bool manual_approval(const std::string& profile) const;
  // true when the refusal got its audit row (not over the per-source limit).
  bool audit_rejection(const PkiRequest& request, std::string_view source, const std::string& target,
                       const std::string& reason);
  // The decision event of a PKIOperation (docs/events.md): new certificates, PENDING,
  // a poll collecting an approved one, refusals; not repeats of an outcome already told.
  void emit_event(const PkiRequest& request, std::string_view source, const Decision& decision);

  const ca::Authority& authority_;
  ca::Issuer& issuer_;
  ca::Registry& registry_;
  EnrollmentSettings settings_;
  const ca::CrlPublisher* crl_;
  std::atomic<std::uint64_t> issued_{0}, renewed_{0}, repeated_{0}, rejected_{0}, malformed_{0}, pending_{0};
  std::atomic<std::uint64_t> certificates_sent_{0}, crls_sent_{0};
  std::array<std::atomic<std::uint64_t>, 5> rejected_by_fail_info_{};
  RefusalAudit refusals_;   // last: its destructor writes the rows still queued
};

// One-time challenges (RFC 8894 §2.3), shared by the admin API and the CLI.
inline constexpr std::int64_t kMaxChallengeTtl = 30 * 86400;
struct MintedChallenge {
  std::string secret;                  // shown once to the caller, never stored or logged
  ca::ChallengeRecord record;
};
// `cn` and `sans` pin what the certificate names ("dns:NAME", "email:ADDR", "uri:URI").
// Throws std::invalid_argument for an empty device, a malformed SAN or one the profile does
// not allow, or a ttl outside 1 s .. 30 days; ca::LedgerConflict for a device the static
// challenge named that still holds valid certificates.
MintedChallenge mint_challenge(ca::Registry& registry, const std::string& device, const ca::Profile& profile,
                               const std::optional<std::string>& cn, const std::vector<std::string>& sans,
                               std::int64_t ttl_seconds, const std::string& actor);
// A one-time challenge bound to no device: its first use binds it to the device the CSR's
// CN names (an MDM's dynamic challenge, e.g. Jamf Pro's). std::invalid_argument for a ttl
// outside 1 s .. 30 days.
MintedChallenge mint_unbound_challenge(ca::Registry& registry, const ca::Profile& profile, std::int64_t ttl_seconds,
                                       const std::string& actor);
// ca::LedgerConflict when `device` was named by a static-challenge enrollment and still
// holds valid certificates: a challenge bound to it would hand it to whoever gets one.
void check_not_squatted(ca::Registry& registry, const std::string& device);
// Lowercase hex SHA-256 of a challenge secret: what the ledger stores.
std::string challenge_hash(std::string_view secret);

}  // namespace portcullis::scep
