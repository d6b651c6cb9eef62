// The plain-words meaning of each reason of docs/events.md, with the next step an operator
// can take. Every sentence names the command or file to use, so the paragraph `why` prints
// can be acted on without the reference page.
#include "app/admin/why_words.hpp"

#include "app/admin/json.hpp"

#include <map>

namespace portcullis::app::why {
namespace {

std::string certificate_of(const ca::Event& e) { return e.serial.empty() ? "its certificate" : "certificate " + e.serial; }

// The name a new challenge is for: the device, else the CN it asked for.
std::string device_or_cn(const ca::Event& e) {
  if (!e.device.empty()) return e.device;
  return e.cn.empty() ? "NAME" : e.cn;
}

std::string challenge_command(const ca::Event& e) { return "`portcullis challenge --device " + device_or_cn(e) + "`"; }

std::string revocation_words(ca::Ledger& ledger, const ca::Event& e) {
  const auto cert = ledger.find_certificate(e.serial);
  if (!cert || !cert->revoked) return certificate_of(e) + " was revoked";
  std::string who;
  ca::AuditFilter f;
  f.target = cert->serial_hex;
  f.action = "revoke";
  f.limit = 1;
  if (const auto rows = ledger.audit(f); !rows.empty()) who = " by " + rows.front().actor;
  return certificate_of(e) + " was revoked on " + admin::iso8601(cert->revoked_at) + who + " (" +
         ca::to_string(cert->revocation_reason) + ")";
}

std::string enroll_hint(const ca::Event& e) {
  return e.device.empty() ? "enroll the device again: `portcullis challenge --device NAME`"
                          : "issue a new one: " + challenge_command(e);
}

// The text after `prefix` up to `end` in `text`; "" when either is missing.
std::string between(const std::string& text, std::string_view prefix, std::string_view end) {
  const auto from = text.find(prefix);
  if (from == std::string::npos) return {};
  const auto start = from + prefix.size();
  const auto to = text.find(end, start);
  return to == std::string::npos ? std::string() : text.substr(start, to - start);
}

// eap_method: a Nak with no alternative (a client without a certificate and key), or the
// method the client wants instead (RFC 3748 §5.3.1).
std::string eap_method_words(const ca::Event& e) {
  if (e.detail.find("proposes no other method") != std::string::npos)
    return "it refused EAP-TLS without proposing another method, which is what a client with no client "
           "certificate and key installed does: install its certificate (enroll it: " +
           challenge_command(e) + ") and select it in the Wi-Fi profile";
  if (const std::string wanted = between(e.detail, "the peer wants ", ", not EAP-TLS"); !wanted.empty())
    return "it is set up for " + wanted + ", not EAP-TLS, which is the only method this server offers: its Wi-Fi "
           "profile must use EAP-TLS with the device's certificate";
  return "it is not set up for EAP-TLS: " + e.detail;
}

std::string policy_words(const ca::Event& e) {
  std::string why = e.detail;
  if (why.starts_with("policy: ")) why.erase(0, 8);
  const std::string rule = e.rule.empty() ? e.reason.substr(7) : e.rule;
  return "the policy rule '" + rule + "' rejected it (" + why +
         "); to let it in, change the device's groups (`portcullis devices show " + device_or_cn(e) +
         "`) or the rule in the policy file and reload it (SIGHUP)";
}

std::string tls_alert_words(const ca::Event& e) {
  if (e.reason == "tls_alert:unknown_ca" && e.detail.starts_with("the client sent"))
    return "the device does not trust this server's certificate (it sent alert unknown_ca): its profile must "
           "install ca/root.pem";
  return "the TLS handshake failed: " + e.detail;
}

std::string radius_reject_words(ca::Ledger& ledger, const ca::Event& e) {
  const std::string& r = e.reason;
  if (r == "revoked") return revocation_words(ledger, e) + "; to let the device back in, " + enroll_hint(e);
  if (r == "expired") return certificate_of(e) + " has expired; " + enroll_hint(e);
  if (r == "not_yet_valid") return certificate_of(e) + " is not valid yet: check the device's clock";
  if (r == "device_disabled")
    return "the device is disabled; to let it back in: `portcullis devices enable " + e.device + "`";
  if (r.starts_with("tls_alert:")) return tls_alert_words(e);
  if (r == "unknown_issuer")
    return "it presented a certificate from another CA (issuer " + e.issuer +
           "); it needs one from this CA: enroll it (`portcullis challenge --device NAME`) and make its Wi-Fi "
           "profile select that certificate";
  if (r == "unknown_certificate")
    return "it presented a certificate naming this CA that the ledger does not hold (serial " + e.serial +
           "); enroll the device again: `portcullis challenge --device NAME`";
  if (r == "bad_signature") return "its TLS signature did not verify with " + certificate_of(e) + ": " + e.detail;
  if (r == "not_for_client_auth")
    return certificate_of(e) + " is not for client authentication (no clientAuth usage); " + enroll_hint(e) +
           " with a device profile";
  if (r == "no_client_certificate")
    return "it sent no client certificate: install its certificate (enroll it: " + challenge_command(e) +
           ") and select it in the Wi-Fi profile";
  if (r == "eap_method") return eap_method_words(e);
  if (r.starts_with("policy:")) return policy_words(e);
  if (r == "session_table_full") return "the server had no room for the conversation: " + e.detail;
  return e.detail.empty() ? r : e.detail;
}

// SCEP reasons (scep/enrollment.cpp) whose words do not depend on the event beyond its device.
std::string scep_reject_words(const ca::Event& e) {
  const std::string& r = e.reason;
  const std::string mint = "mint a new one: " + challenge_command(e);
  if (r == "challenge_wrong")
    return "the challenge it sent is not one this CA minted (mistyped, or from another server); " + mint;
  if (r == "challenge_used") return "the challenge it sent was already used (each is good for one enrollment); " + mint;
  if (r == "challenge_expired") return "the challenge it sent had expired; " + mint + " (--ttl for a longer life)";
  if (r == "challenge_missing") return "it sent no challenge password: its profile must carry one; " + mint;
  if (r == "challenge_refused") return "the challenge was spent while the request was processed; " + mint;
  if (r == "challenge_bound_elsewhere")
    return "the challenge is bound to device " + e.device + " but the request asked for CN " + e.cn +
           "; mint a challenge for the device the profile names, or fix the profile's subject";
  if (r == "static_device_exists")
    return "the static challenge only enrolls new devices and device " + e.device +
           " exists; use a one-time challenge: " + challenge_command(e);
  if (r == "cn_missing") return "its request has no CN in the subject: fix the profile's subject";
  if (r == "cn_invalid") return "its request's CN is not usable as a device name: fix the profile's subject";
  if (r == "renewal_not_ours")
    return "it asked to renew with a certificate this CA did not issue; enroll it with a challenge: " +
           challenge_command(e);
  if (r == "renewal_signer_expired")
    return "it asked to renew with " + certificate_of(e) +
           ", which has expired: an expired certificate cannot renew, so the device needs a new one-time "
           "challenge in its SCEP profile: " + challenge_command(e) +
           " (for every device whose certificate expired in the last 30 days at once: "
           "`portcullis challenge --expired-within 30 --out reenroll.tsv`)";
  if (r.starts_with("renewal_signer_"))
    return "it asked to renew with a certificate that is " + r.substr(15) + "; enroll it again: " +
           challenge_command(e);
  if (r == "issuance_refused") return "the profile does not allow what it asked for (" + e.detail + ")";
  if (r == "device_disabled")
    return "the device is disabled; to enroll it: `portcullis devices enable " + device_or_cn(e) + "`";
  if (r == "unknown_transaction") return "it polled for a request this CA does not know: enroll it again";
  if (r == "rejected_by_operator") return "an operator rejected its request (" + e.detail + ")";
  return "the request failed (" + e.detail + ")";
}

}  // namespace

std::string radius_words(ca::Ledger& ledger, const ca::Event& e) {
  if (e.outcome == "accept") return "accepted (rule " + e.rule + ", " + certificate_of(e) + ")";
  if (e.outcome == "abandoned")
    return "the device stopped answering half-way (" + e.detail +
           "); a device that does not trust this server's certificate often gives up silently like this: check "
           "that its profile installs ca/root.pem, and that it stays in range";
  return radius_reject_words(ledger, e);
}

std::string scep_words(const ca::Event& e) {
  if (e.outcome == "issued") return "certificate " + e.serial + " was issued to device " + e.device;
  if (e.outcome == "renewed") return "certificate " + e.serial + " was issued to device " + e.device + " (a renewal)";
  if (e.outcome == "approved") return "it collected certificate " + e.serial + " after an operator's approval";
  if (e.outcome == "pending")
    return "its request waits for an operator: `portcullis requests list`, then `portcullis requests approve ID`";
  return scep_reject_words(e);
}

std::string radsec_words(const ca::Event& e) {
  const std::string cert = e.serial.empty() ? "its certificate" : "NAS certificate " + e.serial;
  const std::string& r = e.reason;
  if (r == "revoked" || r == "expired" || r == "not_yet_valid")
    return cert + " is " + (r == "not_yet_valid" ? "not yet valid" : r) +
           ": issue the NAS a new one with `portcullis nas certificate` and install it";
  if (r == "device_disabled") return "the device " + e.device + " its certificate belongs to is disabled";
  if (r == "unknown_issuer")
    return cert + " is not ours (issuer " + e.issuer +
           ") and no RadSec client with a ca_file names it: install one from `portcullis nas certificate`";
  if (r == "untrusted_certificate") return cert + " does not verify against the ca_file of the client it names";
  if (r == "not_nas_profile") return cert + " is a device certificate, not a NAS certificate (profile nas)";
  if (r == "no_client")
    return cert + " was issued to " + e.device + ", which is no RadSec client's certificate_name in [[radius.clients]]";
  if (r == "source_address") return "it connected from outside the address configured for its client";
  if (r == "radius_version")
    return "it did not negotiate RADIUS/1.1 (ALPN radius/1.1 over TLS 1.3), which its client entry requires";
  if (r == "token_reuse")
    return "it reused the RADIUS/1.1 Token of a request not yet answered, so its connection was closed "
           "(RFC 9765 §4.2.2): a NAS fault to report to its vendor";
  if (r == "nas_cap" || r == "total_cap")
    return "too many connections open (" + std::string(r == "nas_cap" ? "max_connections_per_nas" : "max_connections") +
           ")";
  return "the TLS handshake did not complete (" + e.detail + ")";
}

std::string dynauth_words(const ca::Event& e) {
  const std::string nas = "NAS " + (e.nas.empty() ? e.nas_ip : e.nas);
  if (e.outcome == "sent") return "a request to end or change the session was sent to " + nas + ": " + e.detail;
  if (e.outcome == "ack") return nas + " acknowledged it: " + e.detail;
  if (e.outcome == "nak") return nas + " refused it (" + e.detail + ")";
  if (e.outcome == "timeout")
    return nas + " did not answer after every retransmission (" + e.detail +
           "): check the client's coa_port and that the NAS accepts dynamic authorization from this server";
  if (e.outcome == "not_sent") return "nothing was sent: " + e.detail;
  return e.detail;
}

std::string nas_words(const ca::Event& e) {
  const std::string what = (e.count > 1 ? std::to_string(e.count) + " datagrams" : std::string("a datagram")) +
                           " from " + (e.nas_ip.empty() ? std::string("an unknown address") : e.nas_ip) +
                           (e.count > 1 ? " were" : " was") + " dropped: ";
  const std::string& r = e.reason;
  if (r == "unknown_client") return what + "no [[radius.clients]] entry covers that address";
  if (r == "bad_message_authenticator")
    return what + "its Message-Authenticator did not verify, which usually means the shared secret differs "
                  "between the NAS and its [[radius.clients]] entry";
  if (r == "missing_message_authenticator")
    return what + "it had no Message-Authenticator, which the client requires (BlastRADIUS, "
                  "require_message_authenticator): turn it on at the NAS";
  if (r == "bad_accounting_authenticator")
    return what + "its accounting Request Authenticator did not verify (RFC 2866 §3): check the shared secret";
  if (r == "malformed") return what + "it is not a RADIUS packet";
  return what + (e.detail.empty() ? r : e.detail);
}

std::string event_words(ca::Ledger& ledger, const ca::Event& e) {
  if (e.kind == ca::event_kind::kRadius) return radius_words(ledger, e);
  if (e.kind == ca::event_kind::kScep) return scep_words(e);
  if (e.kind == ca::event_kind::kDynauth) return dynauth_words(e);
  if (e.kind == ca::event_kind::kNas) return nas_words(e);
  if (e.kind == ca::event_kind::kRadsec) return radsec_words(e);
  return e.detail;
}

}  // namespace portcullis::app::why
