// SCEP enrollment policy: challenge checks, renewal, transactions, then ca::Issuer.
#include "scep/enrollment.hpp"

#include "ca/constant_time.hpp"
#include "ca/log_text.hpp"
#include "scep/challenge_query.hpp"

#include <openssl/err.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>

namespace portcullis::scep {
namespace {

constexpr const char* kActor = "scep";


std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The CSR subject's first CN as UTF-8; empty when there is none.
std::string csr_common_name(X509_REQ* csr) {
  const X509_NAME* name = X509_REQ_get_subject_name(csr);
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  return ca::utf8_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
}

// The CSR subject in RFC 2253 form, for the operator deciding on a held request.
std::string csr_subject(X509_REQ* csr) {
  ca::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_REQ_get_subject_name(csr), 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

// Constant time in the secret's content (lengths are not secret).
bool same_secret(const std::string& a, const std::string& b) {
  return !a.empty() && ca::constant_time_equal(a, b);
}

// A request signed by a certificate that our issuing CA signed (RFC 8894 §3.3.1.2
// RenewalReq; Apple renews with a PKCSReq signed the same way).
// Names, key identifiers and algorithms first, on the signer as parsed; a certificate that
// passes is read again in full from its DER for the signature check, which computes in
// the certificate's own library context (PkiRequest::signer). Only renewals get that far.
bool issued_by(const X509* issuing, const PkiRequest& request) {
  if (X509_check_issued(const_cast<X509*>(issuing), request.signer.get()) != X509_V_OK) {
    ERR_clear_error();
    return false;
  }
  bool ok = false;
  try {
    const ca::X509Ptr cert = ca::cert_from_der(request.signer_der);
    ok = X509_verify(cert.get(), X509_get0_pubkey(issuing)) == 1;
  } catch (const std::exception&) {
    ok = false;
  }
  ERR_clear_error();
  return ok;
}

// ", left out of the CSR: OU=x, dns:y" for the issuance log line; empty when nothing was.
// The items are the requester's text: made printable, so they cannot forge log lines.
std::string left_out_note(const std::vector<std::string>& left_out) {
  if (left_out.empty()) return {};
  std::string out = ", left out of the CSR:";
  for (const auto& item : left_out) out += " " + ca::log_safe(item);
  return out;
}

// A name for a device the requester names itself: no control characters (the name reaches
// logs and the admin API), not all digits (a number names a device id), at most 128 octets.
bool usable_device_name(const std::string& name) {
  const bool digits = std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
  return !ca::has_control_characters(name) && !digits && name.size() <= 128 && name.front() != ' ' && name.back() != ' ';
}

// "2027-03-01 12:00 UTC"
std::string utc_date(ca::UnixTime t) {
  std::tm tm{};
  const std::time_t tt = static_cast<std::time_t>(t);
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

}  // namespace

// What to answer: a certificate (owned here) or a failInfo with the reason for the log.
struct Enrollment::Decision {
  ca::X509Ptr certificate;
  ca::X509CrlPtr crl;       // GetCRL SUCCESS (RFC 8894 §3.3.4)
  bool pending = false;     // RFC 8894 §3.3.2: waiting for manual approval
  FailInfo fail_info = FailInfo::bad_request;
  std::string reason;       // FAILURE only; never contains a secret
  std::string target;       // device name, serial or CN, for the audit row
  // For the decision event (docs/events.md): the outcome of a certificate answer (issued,
  // renewed, approved; "" for a repeat), the refusal's term, and what is known of the device.
  std::string outcome;
  std::string code;
  std::string device;
  std::string serial;
  std::string decided_by;   // the challenge source that allowed or refused it; "": local
  std::vector<std::string> superseded;   // serials the new certificate replaced (revoked)

  static Decision wait() {
    Decision d;
    d.pending = true;
    return d;
  }
  static Decision success(ca::X509Ptr cert) {
    Decision d;
    d.certificate = std::move(cert);
    return d;
  }
  static Decision crl_of(ca::X509CrlPtr crl) {
    Decision d;
    d.crl = std::move(crl);
    return d;
  }
  // `code` "": the failInfo's own name (RFC 8894 §3.2.1.4).
  static Decision failure(FailInfo info, std::string reason, std::string target = {}, std::string code = {}) {
    Decision d;
    d.fail_info = info;
    d.reason = std::move(reason);
    d.target = std::move(target);
    d.code = code.empty() ? to_string(info) : std::move(code);
    return d;
  }
};

Enrollment::Enrollment(const ca::Authority& authority, ca::Issuer& issuer, ca::Registry& registry,
                       EnrollmentSettings settings, const ca::CrlPublisher* crl)
    : authority_(authority),
      issuer_(issuer),
      registry_(registry),
      settings_(std::move(settings)),
      crl_(crl),
      refusals_(registry_.ledger(), settings_.refusals) {
  if (authority_.ra() == nullptr || authority_.ra_key() == nullptr)
    throw std::runtime_error("SCEP needs the RA certificate and key (ca/ra.pem, ca/ra.key)");
  if (settings_.allow_legacy_crypto) enable_legacy_crypto();
}

ca::Bytes Enrollment::handle(std::span<const std::uint8_t> message, std::string_view source) {
  PkiRequest request;
  try {
    request = parse_request(message, authority_.ra(), authority_.ra_key(),
                            CryptoPolicy{settings_.allow_legacy_crypto});
  } catch (const MalformedMessage&) {
    ++malformed_;
    throw;
  }
  Decision decision = decide(request, source);
  CertRep rep;
  if (decision.certificate) {
    rep.status = PkiStatus::success;
    // The issued certificate alone: Apple pairs the first certificate with its key.
    rep.certificates.push_back(decision.certificate.get());
  } else if (decision.crl) {
    rep.status = PkiStatus::success;
    rep.crl = decision.crl.get();
    ++crls_sent_;
  } else if (decision.pending) {
    // RFC 8894 §3.3.2: no certificate yet; the client polls with CertPoll (§3.3.3).
    rep.status = PkiStatus::pending;
    ++pending_;
  } else {
    rep.status = PkiStatus::failure;
    rep.fail_info = decision.fail_info;
    ++rejected_;
    ++rejected_by_fail_info_.at(static_cast<std::size_t>(decision.fail_info));
    // The refusal audit limits rows per source; its event goes with its row, so a flood
    // from one address cannot push other events out either.
    if (audit_rejection(request, source, decision.target,
                        std::string(to_string(decision.fail_info)) + ": " + decision.reason))
      emit_event(request, source, decision);
  }
  if (decision.certificate || decision.pending) emit_event(request, source, decision);
  emit_superseded(request, source, decision);
  notify_sources(request, decision);
  return build_cert_rep(request, rep, authority_.ra(), authority_.ra_key());
}

void Enrollment::emit_event(const PkiRequest& request, std::string_view source, const Decision& decision) {
  const bool refused = !decision.certificate && !decision.crl && !decision.pending;
  if (settings_.events == nullptr || (!refused && decision.outcome.empty())) return;
  ca::Event e;
  e.kind = ca::event_kind::kScep;
  e.outcome = refused ? "reject" : decision.outcome;
  e.reason = refused ? decision.code : "ok";
  e.detail = refused ? std::string(to_string(decision.fail_info)) + ": " + decision.reason
                     : std::string(to_string(request.type)) + (decision.reason.empty() ? "" : ": " + decision.reason);
  if (!refused && !decision.decided_by.empty()) e.detail += " (allowed by " + decision.decided_by + ")";
  e.nas_ip = std::string(source);
  e.device = decision.device;
  e.serial = decision.serial;
  if (request.csr) e.cn = ca::log_safe(csr_common_name(request.csr.get()));
  e.transaction_id = ca::log_safe(request.transaction_id);
  settings_.events->emit(std::move(e));
}

bool Enrollment::manual_approval(const std::string& profile) const {
  const auto found = issuer_.profiles().find(profile);
  return found != issuer_.profiles().end() && found->second.manual_approval;
}

Enrollment::Decision Enrollment::decide(PkiRequest& request, std::string_view source) {
  if (request.failure) return Decision::failure(*request.failure, request.failure_reason);
  switch (request.type) {
    case MessageType::pkcs_req:
    case MessageType::renewal_req:
      return enroll(request, source);
    case MessageType::cert_poll: {
      // RFC 8894 §3.3.3: a poll for a transaction we never saw is rejected.
      auto known = from_transaction(request, /*poll=*/true);
      if (!known) return Decision::failure(FailInfo::bad_cert_id, "unknown transaction", {}, "unknown_transaction");
      return std::move(*known);
    }
    case MessageType::get_cert:
    case MessageType::get_crl:
      return issuer_and_serial(request);
    case MessageType::cert_rep:
      break;
  }
  return Decision::failure(FailInfo::bad_request, "not a request message type");
}

// RFC 8894 §3.3.4: GetCert and GetCRL name a certificate by IssuerAndSerialNumber. Only
// our issuing CA's certificates are known here; GetCert answers the certificate itself,
// GetCRL the current CRL of its issuer (the one /crl serves), which answers for any
// serial of that issuer, so the serial need not be in the ledger.
Enrollment::Decision Enrollment::issuer_and_serial(const PkiRequest& request) {
  if (!request.requested_issuer ||
      X509_NAME_cmp(request.requested_issuer.get(), X509_get_subject_name(authority_.issuing())) != 0)
    return Decision::failure(FailInfo::bad_cert_id, "IssuerAndSerialNumber names another issuer");
  if (request.type == MessageType::get_cert) {
    const auto record = registry_.ledger().find_certificate(request.requested_serial_hex);
    if (!record) return Decision::failure(FailInfo::bad_cert_id, "no certificate with that serial");
    ++certificates_sent_;
    return Decision::success(ca::cert_from_der(record->der));
  }
  const auto published = crl_ ? crl_->current() : nullptr;
  if (!published) return Decision::failure(FailInfo::bad_request, "no CRL is published");
  const unsigned char* p = published->der.data();
  ca::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(published->der.size())));
  if (!crl) throw ca::OpenSslError("d2i_X509_CRL (published CRL)");
  return Decision::crl_of(std::move(crl));
}

std::optional<Enrollment::Decision> Enrollment::from_transaction(const PkiRequest& request, bool poll) {
  const ca::ScepTransactionKey key{request.transaction_id, request.requester_sha256};
  // One read in the usual case, a transaction never seen (every new enrollment).
  if (!registry_.ledger().scep_transaction_known(key)) return std::nullopt;
  const auto serial = registry_.ledger().find_scep_transaction(key);
  if (!serial) {
    // A request held for manual approval (RFC 8894 §3.3.2): still PENDING, or refused.
    const auto held = registry_.ledger().find_scep_request(key);
    if (!held) return std::nullopt;
    if (held->status == "pending") {
      spdlog::info("scep: {} transaction {} still pending (request {})", poll ? "poll for" : "retransmitted",
                   request.transaction_id, held->id);
      return Decision::wait();
    }
    Decision refused = Decision::failure(FailInfo::bad_request,
                                         "request " + std::to_string(held->id) + " was " + held->status +
                                             (held->reason.empty() ? std::string() : " (" + held->reason + ")"),
                                         held->device_name, "rejected_by_operator");
    refused.device = held->device_name;
    return refused;
  }
  const auto record = registry_.ledger().find_certificate(*serial);
  if (!record) return Decision::failure(FailInfo::bad_cert_id, "transaction has no certificate");
  if (record->revoked) {
    // A certificate withdrawn before it was sent (its challenge source did not confirm it)
    // or revoked since: a retransmission must not hand it out.
    Decision refused = Decision::failure(FailInfo::bad_request,
                                         "the certificate of this transaction (" + record->serial_hex + ") is revoked (" +
                                             ca::to_string(record->revocation_reason) + "); enroll again",
                                         record->serial_hex, "certificate_revoked");
    refused.serial = record->serial_hex;
    if (const auto device = registry_.ledger().find_device(record->device_id)) refused.device = device->name;
    return refused;
  }
  ++repeated_;
  spdlog::info("scep: {} transaction {} answered with certificate {}", poll ? "poll for" : "retransmitted",
               request.transaction_id, *serial);
  Decision answer = Decision::success(ca::cert_from_der(record->der));
  // A poll collecting what an operator approved is that request's outcome; anything else
  // answered from the transaction repeats an outcome already told (no outcome, no event).
  const auto held = poll ? registry_.ledger().find_scep_request(key) : std::nullopt;
  if (held && held->status == "approved") answer.outcome = "approved";
  answer.serial = record->serial_hex;
  if (const auto device = registry_.ledger().find_device(record->device_id)) answer.device = device->name;
  return answer;
}

// Who a new certificate is for: the device, profile and names, or why there is none.
struct Enrollment::Target {
  ca::IssueRequest issue;
  bool renewal = false;
  std::string device_name;                // for a request held for approval
  std::string pinned_cn;                  // what a one-time challenge pinned, kept by a held request
  std::vector<std::string> pinned_sans;
  std::string decided_by;                 // the challenge source that allowed it
  std::shared_ptr<ChallengeSource> decided_source;   // and the source itself, told before the CertRep
  std::optional<Decision> refused;

  static Target refuse(std::string reason, std::string target, std::string code, std::string device = {}) {
    Target t;
    t.refused = Decision::failure(FailInfo::bad_request, std::move(reason), std::move(target), std::move(code));
    t.refused->device = std::move(device);
    return t;
  }
};

Enrollment::Decision Enrollment::enroll(PkiRequest& request, std::string_view source) {
  // A retransmitted request (same transactionID, same requester key) gets the certificate
  // it already got instead of a second one (RFC 8894 §3.3.1).
  // The same holds for one waiting for approval: PENDING again, and no second request row.
  if (auto repeated = from_transaction(request, /*poll=*/false)) return std::move(*repeated);

  const std::string cn = csr_common_name(request.csr.get());
  Target target = target_of(request, cn, source);
  if (target.refused) return std::move(*target.refused);
  ca::IssueRequest& issue = target.issue;
  issue.csr.assign(request.message_data.begin(), request.message_data.end());
  issue.parsed_csr = request.csr.get();   // parsed once, in parse_request
  issue.actor = kActor;
  issue.device.scep_transaction = ca::ScepTransactionKey{request.transaction_id, request.requester_sha256};
  // Manual approval applies to new enrollments; a renewal proves an approved certificate.
  Decision decision = !target.renewal && manual_approval(issue.profile) ? hold_for_approval(request, target, cn)
                                                                          : issue_for(request, target, cn);
  decision.decided_by = target.decided_by;
  return decision;
}

Enrollment::Target Enrollment::target_of(const PkiRequest& request, const std::string& cn,
                                         std::string_view source) {
  if (issued_by(authority_.issuing(), request)) return renewal_target(request);
  if (request.type == MessageType::renewal_req) return Target::refuse("RenewalReq not signed by a certificate of ours", cn, "renewal_not_ours");
  if (request.challenge_password.empty()) return Target::refuse("no challenge password", cn, "challenge_missing");
  if (same_secret(request.challenge_password, settings_.static_challenge)) return static_target(cn);
  return challenge_target(request, cn, source);
}

// RFC 8894 §3.3.1.2 leaves when to renew to the CA: the profile's renew_before_days. The
// reason says when the window opens, so the device's admin knows it is not an error.
std::optional<std::string> Enrollment::too_early_to_renew(const std::string& profile, ca::UnixTime not_after,
                                                          ca::UnixTime now) const {
  const auto found = issuer_.profiles().find(profile);
  if (found == issuer_.profiles().end() || found->second.renew_before_days <= 0) return std::nullopt;
  const ca::UnixTime opens = not_after - static_cast<ca::UnixTime>(found->second.renew_before_days) * 86400;
  if (now >= opens) return std::nullopt;
  return "too early to renew: profile '" + profile + "' renews within " +
         std::to_string(found->second.renew_before_days) + " days of expiry; the window opens " + utc_date(opens);
}

// Renewal: the signer certificate must be ours, valid and not revoked; the new certificate
// goes to the same device in the same profile, with the same names; the challenge is
// optional. The exact certificate, as in EAP-TLS: the ledger knows the bytes it issued.
Enrollment::Target Enrollment::renewal_target(const PkiRequest& request) {
  const ca::UnixTime now = ca::now_unix();
  const ca::Identity identity = registry_.index().by_fingerprint(ca::sha256(request.signer_der), now);
  const std::string serial = ca::serial_hex(request.signer.get());
  // The event names the certificate that asked, so that `why` can say which one.
  const auto refuse = [&](std::string reason, std::string code) {
    Target t = Target::refuse(std::move(reason), serial, std::move(code), identity.device_name);
    t.refused->serial = serial;
    return t;
  };
  if (identity.verdict == ca::IdentityVerdict::expired)
    return refuse("renewal signer certificate expired on " + utc_date(identity.not_after) +
                      ": an expired certificate cannot renew; the device needs a new one-time challenge "
                      "(portcullis challenge --device " + identity.device_name +
                      ", or for many: portcullis challenge --expired-within DAYS)",
                  "renewal_signer_expired");
  if (identity.verdict != ca::IdentityVerdict::good)
    return refuse(std::string("renewal signer certificate is ") + ca::to_string(identity.verdict),
                  std::string("renewal_signer_") + ca::to_string(identity.verdict));
  if (auto early = too_early_to_renew(identity.profile, ca::not_after_unix(request.signer.get()), now))
    return refuse(*early, "renewal_too_early");
  Target t;
  t.renewal = true;
  t.issue.device.id = identity.device_id;
  t.issue.profile = identity.profile;
  t.issue.names = ca::names_of(request.signer.get());
  return t;
}

// Static challenge: shared by every profile an MDM hands out, so it proves nothing about
// which device asks. It may only create a device, named by the CSR's CN (the requester's
// choice, so the device joins kStaticGroup, which operators and policy can tell apart); a
// certificate for a device that exists needs a one-time challenge bound to it, a renewal
// signed by its current certificate, or an operator's approval (docs/security.md).
Enrollment::Target Enrollment::static_target(const std::string& cn) {
  if (cn.empty()) return Target::refuse("CSR subject has no CN", {}, "cn_missing");
  if (!usable_device_name(cn)) return Target::refuse("CSR CN is not a usable device name", ca::log_safe(cn), "cn_invalid");
  const bool approval = manual_approval(settings_.profile);
  if (!approval && registry_.ledger().find_device_by_name(cn))
    return Target::refuse("the static challenge only enrolls new devices; device '" + cn +
                              "' exists (use a one-time challenge bound to it, or renew)",
                          cn, "static_device_exists", cn);
  Target t;
  t.device_name = cn;
  t.issue.device.name = cn;
  t.issue.device.create_if_missing = true;
  t.issue.device.new_only = !approval;
  t.issue.device.groups_if_created = {kStaticGroup};
  t.issue.profile = settings_.profile;
  t.issue.names = issuer_.names_for(t.issue.profile, cn, cn, {});
  return t;
}

// One-time challenge: bound to its device (and perhaps a CN and SANs) when it was minted.
Enrollment::Target Enrollment::challenge_target(const PkiRequest& request, const std::string& cn,
                                                std::string_view source) {
  const std::string hash = challenge_hash(request.challenge_password);
  const auto challenge = registry_.ledger().find_challenge(hash);
  if (!challenge) {
    if (!settings_.challenge_sources.empty()) return source_target(request, cn, source);
    return Target::refuse("wrong challenge", cn, "challenge_wrong");
  }
  const std::string& bound = challenge->device_name;
  if (challenge->used_at) return Target::refuse("challenge already used", bound, "challenge_used", bound);
  if (challenge->expires_at <= ca::now_unix()) return Target::refuse("challenge expired", bound, "challenge_expired", bound);
  if (challenge->device_id == 0) {
    Target t = unbound_challenge_target(*challenge, cn);
    if (!t.refused) t.issue.device.redeem_challenge_hash = hash;
    return t;
  }
  // The challenge is bound to its device: a CSR naming something else is refused.
  if (challenge->cn && *challenge->cn != cn)
    return Target::refuse("CSR CN does not match the challenge's binding", bound, "challenge_bound_elsewhere", bound);
  if (!challenge->cn && !cn.empty() && lower(cn) != lower(challenge->device_name)) {
    if (auto other = registry_.ledger().find_device_by_name(cn); other && other->id != challenge->device_id)
      return Target::refuse("CSR names another device", bound, "challenge_bound_elsewhere", bound);
  }
  Target t;
  t.device_name = challenge->device_name;
  t.pinned_cn = challenge->cn.value_or("");
  t.pinned_sans = challenge->sans;
  t.issue.device.id = challenge->device_id;
  t.issue.device.redeem_challenge_hash = hash;
  t.issue.profile = challenge->profile;
  t.issue.names = issuer_.names_for(t.issue.profile, t.device_name, challenge->cn.value_or(t.device_name),
                                    challenge->sans);
  return t;
}

// A CN the requester chose may name a device only if none exists yet or an MDM's challenge
// created it (in kMdmChallengeGroup); never one an operator named or the static challenge
// created: taking it would revoke that device's certificates (on_reenroll = "revoke").
std::optional<Enrollment::Target> Enrollment::refuse_device_named_by_others(const std::string& cn) {
  const auto existing = registry_.ledger().find_device_by_name(cn);
  if (!existing) return std::nullopt;
  const auto& groups = existing->groups;
  if (std::find(groups.begin(), groups.end(), kMdmChallengeGroup) != groups.end()) return std::nullopt;
  return Target::refuse("device '" + cn + "' exists and was not enrolled by an MDM challenge (use a one-time " +
                            "challenge bound to it, or renew)",
                        cn, "challenge_device_exists", cn);
}

// A challenge minted for no device (POST /scep/challenge/jamf): its first use binds it to
// the device the CSR's CN names, a name the requester chose. So, like the static challenge,
// it may create a device (in kMdmChallengeGroup); it may also enroll again a device an
// earlier unbound challenge created (a wiped or replaced device), never one an operator
// named or the static challenge created.
Enrollment::Target Enrollment::unbound_challenge_target(const ca::ChallengeRecord& challenge, const std::string& cn) {
  if (cn.empty()) return Target::refuse("CSR subject has no CN", {}, "cn_missing");
  if (!usable_device_name(cn)) return Target::refuse("CSR CN is not a usable device name", ca::log_safe(cn), "cn_invalid");
  // A request held for approval spends its challenge on a device that exists (RFC 8894
  // §3.3.2 PENDING); this one has no device until it is issued. The config refuses the
  // pairing; a profile changed since the challenge was minted still gets a clear reason.
  if (manual_approval(challenge.profile))
    return Target::refuse("profile '" + challenge.profile + "' needs manual approval, which a challenge bound to "
                              "no device (Jamf) cannot wait for: give [mdm.jamf] a profile without manual_approval, "
                              "or use a one-time challenge bound to the device",
                          cn, "challenge_unbound_needs_approval", cn);
  if (auto refused = refuse_device_named_by_others(cn)) return std::move(*refused);
  Target t;
  t.device_name = cn;
  t.pinned_cn = challenge.cn.value_or("");
  t.pinned_sans = challenge.sans;
  t.issue.device.name = cn;
  t.issue.device.create_if_missing = true;
  t.issue.device.groups_if_created = {kMdmChallengeGroup};
  t.issue.profile = challenge.profile;
  t.issue.names = issuer_.names_for(t.issue.profile, cn, cn, challenge.sans);
  return t;
}

// An MDM's challenge: the first source that allows the request decides and names the
// device; a device it names that does not exist yet is created in the groups it gives, and
// one that exists may get a certificate too: the source vouches for it. A source that names
// no device vouches for none: the CSR's CN, the requester's choice, names it under the rule
// of the unbound challenge (a new device joins kMdmChallengeGroup as well). Every source is
// asked in turn until one allows: a source that times out does not hide the next one.
Enrollment::Target Enrollment::source_target(const PkiRequest& request, const std::string& cn,
                                             std::string_view source) {
  const ChallengeQuery query = challenge_query(request, source);
  std::string refusals;
  std::string code = "challenge_denied";
  std::string last_source;
  FailInfo fail_info = FailInfo::bad_request;
  for (const auto& challenge_source : settings_.challenge_sources) {
    ChallengeVerdict verdict = challenge_source->validate(query);
    if (verdict.kind == ChallengeVerdict::Kind::abstain) continue;
    last_source = challenge_source->name();
    if (verdict.kind != ChallengeVerdict::Kind::allow) {
      if (verdict.kind == ChallengeVerdict::Kind::unavailable) code = "challenge_source_unavailable";
      fail_info = verdict.fail_info;
      refusals += (refusals.empty() ? "" : "; ") + last_source + ": " + ca::log_safe(verdict.reason);
      continue;
    }
    const bool named = !verdict.device.empty();
    const std::string device = named ? verdict.device : cn;
    if (device.empty()) return Target::refuse(last_source + " allowed the request but named no device and the CSR has no CN", cn, "cn_missing");
    if (!usable_device_name(device))
      return Target::refuse(last_source + " named a device that is not a usable name", ca::log_safe(device), "cn_invalid");
    if (!named) {
      if (auto refused = refuse_device_named_by_others(device)) {
        refused->refused->decided_by = last_source;
        return std::move(*refused);
      }
      if (std::find(verdict.groups.begin(), verdict.groups.end(), kMdmChallengeGroup) == verdict.groups.end())
        verdict.groups.emplace_back(kMdmChallengeGroup);
    }
    Target t;
    t.decided_by = last_source;
    t.decided_source = challenge_source;
    t.device_name = device;
    t.pinned_sans = verdict.sans;
    t.issue.device.name = device;
    t.issue.device.create_if_missing = true;
    t.issue.device.groups_if_created = std::move(verdict.groups);
    t.issue.profile = settings_.profile;
    t.issue.names = issuer_.names_for(t.issue.profile, device, device, verdict.sans);
    return t;
  }
  if (refusals.empty()) return Target::refuse("wrong challenge", cn, "challenge_wrong");
  Target refused = Target::refuse("challenge refused by " + refusals, cn, code);
  refused.refused->fail_info = fail_info;
  refused.refused->decided_by = last_source;
  return refused;
}

// Every source hears the outcome of each enrollment that ended now: a certificate (issued,
// renewed, collected after approval) or a refusal; not a PENDING nor a repeat.
void Enrollment::notify_sources(const PkiRequest& request, const Decision& decision) {
  if (settings_.challenge_sources.empty()) return;
  const bool refused = !decision.certificate && !decision.pending;
  // A poll tells an outcome only when it collects what an operator approved.
  const bool enrollment = request.type == MessageType::pkcs_req || request.type == MessageType::renewal_req;
  if (!enrollment && !(request.type == MessageType::cert_poll && decision.outcome == "approved")) return;
  if (decision.pending || (!refused && decision.outcome.empty())) return;
  const EnrollmentOutcome out = outcome_of(request, decision);
  for (const auto& challenge_source : settings_.challenge_sources) challenge_source->notify(out);
}

EnrollmentOutcome Enrollment::outcome_of(const PkiRequest& request, const Decision& decision) {
  const bool refused = !decision.certificate;
  EnrollmentOutcome out;
  out.success = !refused;
  out.outcome = refused ? "refused" : decision.outcome;
  out.transaction_id = ca::log_safe(request.transaction_id);
  out.device = decision.device;
  out.decided_by = decision.decided_by;
  if (request.type == MessageType::pkcs_req || request.type == MessageType::renewal_req)
    out.csr_pem = request_pem(request.message_data);
  if (refused) {
    out.reason = std::string(to_string(decision.fail_info)) + ": " + decision.reason;
    out.code = decision.code;
  } else {
    out.serial = decision.serial;
    out.fingerprint = ca::sha256_fingerprint_hex(decision.certificate.get());
    out.certificate_pem = ca::cert_to_pem(decision.certificate.get());
  }
  return out;
}

// The source that allowed the request is told of the certificate before the requester
// gets it. One the source does not accept is revoked at once, never sent: the requester
// gets FAILURE, and a retransmission finds it revoked (from_transaction).
std::optional<Enrollment::Decision> Enrollment::withdraw_unconfirmed(const PkiRequest& request, const Target& target,
                                                                     const Decision& issued, const std::string& cn) {
  if (!target.decided_source) return std::nullopt;
  Confirmation confirmation;
  try {
    confirmation = target.decided_source->confirm(outcome_of(request, issued));
  } catch (const std::exception& e) {
    confirmation = {false, ca::log_safe(e.what())};
  }
  if (confirmation.accepted) return std::nullopt;
  std::string withdrawn = "revoked (cessationOfOperation), not sent";
  try {
    // Through the registry, as any revocation: the CRL and OCSP say so at once.
    registry_.revoke(issued.serial, ca::RevocationReason::cessation_of_operation, ca::now_unix(), kActor);
  } catch (const std::exception& e) {
    withdrawn = std::string("not sent, but NOT revoked: ") + e.what();
    spdlog::error("scep: certificate {} of device {} not revoked after {} refused it: {}", issued.serial,
                  issued.device, target.decided_by, e.what());
  }
  spdlog::warn("scep: certificate {} of device {} (transaction {}) withdrawn: {} did not accept it: {}; {}",
               issued.serial, issued.device, request.transaction_id, target.decided_by, confirmation.reason, withdrawn);
  Decision refused = Decision::failure(FailInfo::bad_request,
                                       "certificate " + issued.serial + " " + withdrawn + ": " + target.decided_by +
                                           " did not accept it: " + confirmation.reason,
                                       cn, "source_confirmation_failed");
  refused.device = issued.device;
  refused.serial = issued.serial;
  refused.decided_by = target.decided_by;
  return refused;
}

Enrollment::Decision Enrollment::issue_for(const PkiRequest& request, Target& target, const std::string& cn) {
  try {
    ca::IssueResult result = issuer_.issue(target.issue);
    spdlog::info("scep: {} certificate {} for device {} (transaction {}){}", target.renewal ? "renewed" : "issued",
                 result.record.serial_hex, result.device.name, request.transaction_id, left_out_note(result.left_out));
    Decision issued = Decision::success(std::move(result.certificate));
    issued.outcome = target.renewal ? "renewed" : "issued";
    issued.device = result.device.name;
    issued.serial = result.record.serial_hex;
    issued.decided_by = target.decided_by;
    // Before anything else follows from the certificate (superseding the earlier ones).
    if (auto withdrawn = withdraw_unconfirmed(request, target, issued, cn)) return std::move(*withdrawn);
    ++(target.renewal ? renewed_ : issued_);
    if (!target.renewal) issued.superseded = supersede_earlier(result, target.issue.profile);
    if (const std::string note = left_out_note(result.left_out); !note.empty()) issued.reason = note.substr(2);
    return issued;
  } catch (const ca::IssuanceRejected& e) {
    return Decision::failure(FailInfo::bad_request, e.what(), cn, "issuance_refused");
  } catch (const ca::DuplicateTransaction&) {
    // The same transaction raced us (a client retransmitting while we signed): both get
    // the certificate that committed first.
    if (auto first = from_transaction(request, /*poll=*/false)) return std::move(*first);
    return Decision::failure(FailInfo::bad_request, "transaction raced and vanished", cn, "internal_error");
  } catch (const ca::ChallengeRefused& e) {
    return Decision::failure(FailInfo::bad_request, e.what(), cn, "challenge_refused");
  } catch (const ca::LedgerConflict& e) {   // a disabled device, or a static name taken meanwhile
    return Decision::failure(FailInfo::bad_request, e.what(), cn, "device_conflict");
  } catch (const ca::LedgerNotFound& e) {   // the bound device vanished
    return Decision::failure(FailInfo::bad_request, e.what(), cn, "device_missing");
  }
}

std::vector<std::string> Enrollment::supersede_earlier(const ca::IssueResult& issued, const std::string& profile) {
  const auto found = issuer_.profiles().find(profile);
  if (found == issuer_.profiles().end() || !found->second.revoke_on_reenroll) return {};
  ca::CertificateFilter valid;
  valid.device_id = issued.device.id;
  valid.status = "valid";
  valid.now = ca::now_unix();
  std::vector<std::string> revoked;
  try {
    for (const auto& earlier : registry_.ledger().list_certificates(valid)) {
      if (earlier.profile != profile || earlier.serial_hex == issued.record.serial_hex) continue;
      // Through the registry: the index, the CRL and the RADIUS Disconnect of its live
      // sessions (RFC 5176) follow, as for an operator's revocation.
      if (registry_.revoke(earlier.serial_hex, ca::RevocationReason::superseded, ca::now_unix(), kActor).changed)
        revoked.push_back(earlier.serial_hex);
    }
  } catch (const std::exception& e) {
    // The new certificate is issued and committed: the device gets it; the operator
    // revokes the old one by hand.
    spdlog::error("scep: certificates of device {} superseded by {} not revoked: {}", issued.device.name,
                  issued.record.serial_hex, e.what());
  }
  for (const auto& serial : revoked)
    spdlog::info("scep: certificate {} of device {} revoked (superseded by {})", serial, issued.device.name,
                 issued.record.serial_hex);
  return revoked;
}

void Enrollment::emit_superseded(const PkiRequest& request, std::string_view source, const Decision& decision) {
  if (settings_.events == nullptr) return;
  for (const auto& serial : decision.superseded) {
    ca::Event e;
    e.kind = ca::event_kind::kScep;
    e.outcome = "superseded";
    e.reason = "reenrolled";
    e.detail = "revoked (superseded): device " + decision.device + " enrolled again and got " + decision.serial;
    e.nas_ip = std::string(source);
    e.device = decision.device;
    e.serial = serial;
    if (request.csr) e.cn = ca::log_safe(csr_common_name(request.csr.get()));
    e.transaction_id = ca::log_safe(request.transaction_id);
    settings_.events->emit(std::move(e));
  }
}

Enrollment::Decision Enrollment::hold_for_approval(const PkiRequest& request, const Target& target,
                                                   const std::string& cn) {
  const ca::IssueRequest& issue = target.issue;
  const std::string& device_name = target.device_name;
  // Every check issuance would make, now: an operator approves only what would be issued.
  try {
    issuer_.check(issue);
  } catch (const ca::IssuanceRejected& e) {
    return Decision::failure(FailInfo::bad_request, e.what(), cn, "issuance_refused");
  }
  if (auto device = registry_.ledger().find_device_by_name(device_name); device && !device->enabled)
    return Decision::failure(FailInfo::bad_request, "device '" + device_name + "' is disabled", device_name,
                             "device_disabled");
  ca::NewScepRequest held;
  held.transaction = *issue.device.scep_transaction;
  held.device_name = device_name;
  held.create_device = issue.device.create_if_missing;
  held.profile = issue.profile;
  held.subject = csr_subject(request.csr.get());
  held.csr_der.assign(request.message_data.begin(), request.message_data.end());
  held.redeem_challenge_hash = issue.device.redeem_challenge_hash;
  held.cn = target.pinned_cn;
  held.sans = target.pinned_sans;
  try {
    const ca::ScepRequestRecord row = registry_.ledger().create_scep_request(held, kActor);
    spdlog::info("scep: request {} for device {} waits for approval (transaction {})", row.id, device_name,
                 request.transaction_id);
    Decision held_now = Decision::wait();
    held_now.outcome = "pending";
    held_now.device = device_name;
    held_now.reason = "request " + std::to_string(row.id) + " waits for an operator's approval";
    return held_now;
  } catch (const ca::DuplicateTransaction&) {
    // A retransmission raced us: answer what the first one stored.
    if (auto first = from_transaction(request, /*poll=*/false)) return std::move(*first);
    return Decision::failure(FailInfo::bad_request, "transaction raced and vanished", cn, "internal_error");
  } catch (const ca::ChallengeRefused& e) {
    return Decision::failure(FailInfo::bad_request, e.what(), device_name, "challenge_refused");
  }
}

// Anyone can be refused, as often as they like: the row goes to RefusalAudit, which
// batches, limits per source and bounds what reaches the ledger; the log line is written
// only for refusals that get a row, so it is limited the same way.
bool Enrollment::audit_rejection(const PkiRequest& request, std::string_view source, const std::string& target,
                                 const std::string& reason) {
  const std::string from = source.empty() ? std::string("unknown") : std::string(source);
  const bool recorded = refusals_.record(
      source, {0, ca::now_unix(), ca::kRefusalActor, ca::kRefusalAction, target,
               std::string("type=") + to_string(request.type) + " transaction=" + request.transaction_id +
                   " from=" + from + " " + reason});
  if (recorded)
    spdlog::warn("scep: {} transaction {} from {} refused: {}", to_string(request.type), request.transaction_id, from,
                 ca::log_safe(reason));   // a reason may quote the requester (a CN, a device name)
  return recorded;
}

EnrollmentCounters Enrollment::counters() const {
  EnrollmentCounters c{issued_.load(), renewed_.load(), repeated_.load(), rejected_.load(), malformed_.load(),
                       pending_.load(), certificates_sent_.load(), crls_sent_.load(), {}, 0, 0};
  for (std::size_t i = 0; i < c.rejected_by_fail_info.size(); ++i) c.rejected_by_fail_info[i] = rejected_by_fail_info_[i].load();
  const RefusalCounters refusals = refusals_.counters();
  c.refusals_suppressed = refusals.suppressed;
  c.refusal_rows_dropped = refusals.dropped;
  return c;
}

std::vector<std::pair<std::string, std::uint64_t>> EnrollmentCounters::named() const {
  std::vector<std::pair<std::string, std::uint64_t>> out{
      {"issued", issued},       {"renewed", renewed}, {"repeated", repeated},
      {"pending", pending},     {"rejected", rejected}, {"malformed", malformed},
      {"certificates_sent", certificates_sent}, {"crls_sent", crls_sent}};
  for (std::size_t i = 0; i < rejected_by_fail_info.size(); ++i)
    out.emplace_back(std::string("rejected_") + to_string(static_cast<FailInfo>(i)), rejected_by_fail_info[i]);
  out.emplace_back("refusals_suppressed", refusals_suppressed);
  out.emplace_back("refusal_rows_dropped", refusal_rows_dropped);
  return out;
}

std::string challenge_hash(std::string_view secret) {
  return ca::sha256_lower_hex({reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()});
}

namespace {

// A SAN the profile could never issue is refused now, not at redemption.
void check_pinned_sans(const ca::Profile& profile, const std::vector<std::string>& sans) {
  for (const auto& san : sans) {
    (void)ca::parse_san(san);   // std::invalid_argument says why
    const std::string type = san.substr(0, san.find(':'));
    if (std::find(profile.allowed_san_types.begin(), profile.allowed_san_types.end(), type) ==
        profile.allowed_san_types.end())
      throw std::invalid_argument("profile '" + profile.name + "' does not allow " + type + " SANs");
  }
}

}  // namespace

// A device the static challenge created was named by whoever held the challenge, perhaps
// ahead of the real device. Binding an operator's challenge to it while it holds valid
// certificates would hand those certificates whatever the operator gives the device.
void check_not_squatted(ca::Registry& registry, const std::string& device) {
  const auto existing = registry.ledger().find_device_by_name(device);
  if (!existing || std::find(existing->groups.begin(), existing->groups.end(), kStaticGroup) == existing->groups.end())
    return;
  ca::CertificateFilter valid;
  valid.device_id = existing->id;
  valid.status = "valid";
  valid.now = ca::now_unix();
  valid.limit = 1;
  if (registry.ledger().list_certificates(valid).empty()) return;
  throw ca::LedgerConflict("device '" + device +
                           "' was named by a static-challenge enrollment and holds valid certificates: revoke "
                           "them (portcullis revoke --device " + device + ") before binding a challenge to it");
}

MintedChallenge mint_unbound_challenge(ca::Registry& registry, const ca::Profile& profile, std::int64_t ttl_seconds,
                                       const std::string& actor) {
  if (ttl_seconds <= 0 || ttl_seconds > kMaxChallengeTtl)
    throw std::invalid_argument("challenge ttl must be 1 second to 30 days");
  MintedChallenge out;
  out.secret = ca::to_lower_hex(ca::random_bytes(16));   // as mint_challenge: PrintableString-safe
  ca::NewChallenge row{challenge_hash(out.secret), {}, profile.name, std::nullopt, {}, ca::now_unix() + ttl_seconds};
  out.record = registry.ledger().mint_challenge(row, actor);
  return out;
}

MintedChallenge mint_challenge(ca::Registry& registry, const std::string& device, const ca::Profile& profile,
                               const std::optional<std::string>& cn, const std::vector<std::string>& sans,
                               std::int64_t ttl_seconds, const std::string& actor) {
  if (device.empty()) throw std::invalid_argument("a challenge needs a device");
  if (ttl_seconds <= 0 || ttl_seconds > kMaxChallengeTtl)
    throw std::invalid_argument("challenge ttl must be 1 second to 30 days");
  check_pinned_sans(profile, sans);
  check_not_squatted(registry, device);
  // 128 bits as 32 hex digits: the challengePassword is a PrintableString in most
  // clients' CSRs, which has no '_' (base64url) and no '/' or '+' worries.
  MintedChallenge out;
  out.secret = ca::to_lower_hex(ca::random_bytes(16));
  ca::NewChallenge row{challenge_hash(out.secret), device, profile.name, cn, sans, ca::now_unix() + ttl_seconds};
  // The device is created through the registry so that the identity index knows it too.
  if (!registry.ledger().find_device_by_name(device)) {
    try {
      registry.create_device(ca::NewDevice{device, {}, {}, {}}, actor);
    } catch (const ca::LedgerConflict&) {
      // created concurrently: fine, it exists now
    }
  }
  out.record = registry.ledger().mint_challenge(row, actor);
  return out;
}

}  // namespace portcullis::scep
