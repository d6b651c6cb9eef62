#include "ca/ledger/ledger_rules.hpp"

#include "ca/log_text.hpp"
#include "ca/serial_text.hpp"

#include <cctype>
#include <limits>

namespace portcullis::ca::detail {

namespace {
constexpr std::size_t kMaxNameBytes = 255;
}  // namespace

std::int64_t clamp_count(std::size_t n) {
  return n > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())
             ? std::numeric_limits<std::int64_t>::max()
             : static_cast<std::int64_t>(n);
}

void validate_new_device(const NewDevice& device) {
  if (device.name.empty()) throw LedgerConflict("device name must not be empty");
  if (device.name.size() > kMaxNameBytes) throw LedgerConflict("device name is longer than 255 bytes");
  if (has_control_characters(device.name)) throw LedgerConflict("device name must not contain control characters");
  validate_groups(device.groups);
}

void validate_groups(const std::vector<std::string>& groups) {
  for (const auto& group : groups) {
    if (group.empty() || group.size() > kMaxNameBytes || has_control_characters(group)) {
      throw LedgerConflict("device group names must be 1 to 255 bytes without control characters");
    }
  }
}

std::string groups_detail(std::int64_t id, const std::vector<std::string>& before,
                          const std::vector<std::string>& after) {
  auto join = [](const std::vector<std::string>& list) {
    std::string out;
    for (const auto& g : list) out += (out.empty() ? "" : ",") + g;
    return out.empty() ? std::string("(none)") : out;
  };
  return "id=" + std::to_string(id) + " groups: " + join(before) + " -> " + join(after);
}

std::vector<std::string> mac_spellings(const std::string& normalized) {
  std::string bare;
  for (char c : normalized)
    if (c != ':') bare.push_back(c);
  auto upper = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  auto joined = [&](std::size_t every, char sep) {
    std::string out;
    for (std::size_t i = 0; i < bare.size(); ++i) {
      if (i != 0 && i % every == 0) out.push_back(sep);
      out.push_back(bare[i]);
    }
    return out;
  };
  std::vector<std::string> out{joined(2, '-'), joined(2, ':'), bare, joined(4, '.')};
  for (std::size_t i = 0, n = out.size(); i < n; ++i) out.push_back(upper(out[i]));
  return out;
}

std::string like_substring(const std::string& text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern.push_back('\\');
    pattern.push_back(c);
  }
  pattern.push_back('%');
  return pattern;
}

RevocationReason reason_from_code(std::int64_t code) {
  switch (code) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 9: case 10:
      return static_cast<RevocationReason>(code);
    default:
      return RevocationReason::unspecified;
  }
}

void prepare_issuance(const DeviceRef& ref, CertificateRecord& record) {
  if (ref.id.has_value() == ref.name.has_value()) {
    throw LedgerConflict("an issuance names its device by exactly one of id or name");
  }
  if (ref.create_if_missing && !ref.name) throw LedgerConflict("create_if_missing needs a device name");
  const auto serial = canonical_serial_hex(record.serial_hex);
  if (!serial) throw LedgerConflict("certificate serial is not 1 to 20 octets of hex");
  const auto fingerprint = canonical_fingerprint_hex(record.sha256_fingerprint);
  if (!fingerprint) throw LedgerConflict("certificate fingerprint is not 64 hex digits (SHA-256)");
  if (record.der.empty()) throw LedgerConflict("certificate DER is empty");
  record.serial_hex = *serial;
  record.sha256_fingerprint = *fingerprint;
  if (record.issued_at == 0) record.issued_at = now_unix();
}

std::string issue_detail(const Device& device, const CertificateRecord& record) {
  return "device=" + device.name + " profile=" + record.profile + " subject=" + record.subject +
         " not_after=" + std::to_string(record.not_after);
}

bool is_refusal_row(const AuditEntry& entry) {
  return entry.actor == kRefusalActor && (entry.action == kRefusalAction || entry.action == kRefusalSummaryAction);
}

void validate_new_challenge(const NewChallenge& challenge, UnixTime now) {
  const std::string& hash = challenge.secret_hash;
  if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw LedgerConflict("challenge hash is not 64 lowercase hex digits");
  if (challenge.profile.empty()) throw LedgerConflict("a challenge needs a profile");
  if (challenge.expires_at <= now) throw LedgerConflict("a challenge must expire in the future");
}

}  // namespace portcullis::ca::detail
