// Helpers shared by the ledger, index and registry tests: a temporary directory and
// synthetic certificate records (random serials and fingerprints, a fake DER).
#pragma once

#include "ca/ledger/ledger.hpp"
#include "ca/records.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace portcullis::ca::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "portcullis-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string random_hex(std::size_t octets) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < octets; ++i) {
    const auto b = static_cast<unsigned>(rng() & 0xFF);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  if (out[0] == '0' && out[1] == '0') out[1] = '1';  // canonical: no leading zero octet
  return out;
}

// A certificate record as the issuer would hand it to the ledger.
inline CertificateRecord make_record(const std::string& serial_hex = random_hex(16), UnixTime not_before = 1'000,
                                     UnixTime not_after = 2'000'000'000) {
  CertificateRecord r;
  r.serial_hex = serial_hex;
  r.profile = "device";
  r.subject = "CN=" + serial_hex.substr(0, 8) + ",O=Portcullis Test";
  r.sans = {"DNS:" + serial_hex.substr(0, 6) + ".example", "URI:urn:device:1"};
  r.sha256_fingerprint = random_hex(32);
  r.not_before = not_before;
  r.not_after = not_after;
  r.issued_at = not_before;
  r.der = {0x30, 0x82, 0x01, 0x00, 0x00, 0xFF, 0x27, 0x3B};  // bytes, not a real certificate
  return r;
}

// Builders for the ledger's plain structs. (Designated initializers that name only some
// fields trip GCC's -Wmissing-field-initializers on members without default initializers.)
inline DeviceRef device_id_ref(std::int64_t id) {
  DeviceRef ref;
  ref.id = id;
  return ref;
}
inline DeviceRef device_name_ref(const std::string& name, bool create_if_missing = false) {
  DeviceRef ref;
  ref.name = name;
  ref.create_if_missing = create_if_missing;
  return ref;
}
inline Device device_state(std::int64_t id, const std::string& name, bool enabled) {
  Device d;
  d.id = id;
  d.name = name;
  d.enabled = enabled;
  return d;
}
inline DeviceFilter devices_where(const std::string& search, std::optional<bool> enabled = {}, std::size_t limit = 1000,
                                  std::size_t offset = 0) {
  DeviceFilter f;
  f.search = search;
  f.enabled = enabled;
  f.limit = limit;
  f.offset = offset;
  return f;
}
inline AuditFilter audit_where(std::optional<std::string> target, std::optional<std::string> action = {},
                               std::size_t limit = 200) {
  AuditFilter f;
  f.target = std::move(target);
  f.action = std::move(action);
  f.limit = limit;
  return f;
}
inline CertificateFilter certs_where(std::optional<std::int64_t> device_id, std::optional<std::string> status = {},
                                     std::optional<UnixTime> expiring_before = {}, std::size_t limit = 1000,
                                     std::size_t offset = 0) {
  CertificateFilter f;
  f.device_id = device_id;
  f.status = std::move(status);
  f.expiring_before = expiring_before;
  f.limit = limit;
  f.offset = offset;
  return f;
}

}  // namespace portcullis::ca::testing
