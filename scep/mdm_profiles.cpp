// Document layouts follow, per platform:
//  - Apple: "Configuration Profile Reference" / Device Management payloads
//    (Configuration, com.apple.security.root, com.apple.security.scep, com.apple.wifi.managed
//    with EAPClientConfiguration).
//  - Android: Android Management API "Open Network Configuration" (ONC) for Wi-Fi, with
//    ClientCertType "KeyPairAlias": the certificate comes from the MDM agent's own SCEP
//    enrollment (cert-install delegation), Android has no OS-level SCEP payload.
//  - Windows: Microsoft "ClientCertificateInstall CSP", node SCEP/{UniqueID}/Install.
// Renewal: none of the three has a client-side renewal setting for SCEP certificates (Apple's
// com.apple.security.scep payload has no renewal or expiry-notification key; the CSP's
// Install node has RetryCount/RetryDelay for PENDING answers only and no renewal period;
// Android Enterprise has no SCEP policy at all): the MDM renews by pushing the document
// again before expiry. So each document says when (RenewalTiming): Apple in the SCEP
// payload's PayloadDescription, Windows and Android next to the settings, for the MDM.
#include "scep/mdm_profiles.hpp"

#include "ca/base64.hpp"
#include "ca/hex.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace portcullis::scep {
namespace {

using nlohmann::json;

constexpr int kKeySize = 2048;       // RSA: Apple's and Windows' SCEP clients encrypt to RSA only
constexpr int kAppleKeyUsage = 5;    // Apple "Key Usage": 1 signing | 4 encryption
constexpr int kWindowsKeyUsage = 0xA0;  // digitalSignature (0x80) | keyEncipherment (0x20)
constexpr int kRetries = 3;
constexpr int kAppleRetryDelaySeconds = 10;
constexpr int kWindowsRetryDelayMinutes = 5;   // the CSP counts RetryDelay in minutes
constexpr int kEapTls = 13;                    // RFC 5216 EAP method type
constexpr const char* kClientAuthOid = "1.3.6.1.5.5.7.3.2";   // id-kp-clientAuth, RFC 5280 §4.2.1.12

void require(const std::string& value, const char* what) {
  if (value.empty()) throw std::invalid_argument(std::string("MDM profile: ") + what + " is empty");
}

void require_common(const MdmProfileInputs& in, bool needs_ssid) {
  require(in.device, "device");
  require(in.challenge, "challenge");
  require(in.scep_url, "SCEP URL");
  if (in.root_der.empty()) throw std::invalid_argument("MDM profile: the root CA certificate is required");
  if (needs_ssid) {
    require(in.ssid, "SSID");
    require(in.eap_server_name, "EAP server name");
    // IEEE 802.11 §9.4.2.2: an SSID is at most 32 octets.
    if (in.ssid.size() > 32) throw std::invalid_argument("MDM profile: an SSID is at most 32 bytes");
  }
}

ca::Bytes digest(const EVP_MD* md, const ca::Bytes& data) {
  ca::Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1)
    throw std::runtime_error("MDM profile: digest failed");
  out.resize(len);
  return out;
}

// Reverse-DNS-ish identifier part: Apple replaces an installed profile that has the same
// PayloadIdentifier, so the identifier is stable per device and server (re-fetching the
// profile updates it in place instead of adding a second one).
std::string identifier_part(std::string_view text) {
  std::string out;
  for (unsigned char c : text) out.push_back(std::isalnum(c) || c == '-' ? static_cast<char>(c) : '-');
  return out;
}

// A minimal property-list writer (Apple "plist" DTD 1.0): values are written in order.
class Plist {
 public:
  void key(std::string_view k) { line("<key>" + xml_escape(k) + "</key>"); }
  void string(std::string_view k, std::string_view v) { key(k); line("<string>" + xml_escape(v) + "</string>"); }
  void integer(std::string_view k, long long v) { key(k); line("<integer>" + std::to_string(v) + "</integer>"); }
  void boolean(std::string_view k, bool v) { key(k); line(v ? "<true/>" : "<false/>"); }
  void data(std::string_view k, const ca::Bytes& v) { key(k); line("<data>" + ca::base64_encode(v) + "</data>"); }
  void open(const char* tag) { line(std::string("<") + tag + ">"); ++depth_; }
  void close(const char* tag) { --depth_; line(std::string("</") + tag + ">"); }
  void bare_string(std::string_view v) { line("<string>" + xml_escape(v) + "</string>"); }
  void bare_integer(long long v) { line("<integer>" + std::to_string(v) + "</integer>"); }
  std::string& text() { return out_; }

 private:
  void line(const std::string& s) { out_.append(static_cast<std::size_t>(depth_) * 2, ' ').append(s).push_back('\n'); }
  std::string out_;
  int depth_ = 0;
};

// The keys every payload carries (Configuration Profile Reference, "Payload keys").
void payload_header(Plist& p, const std::string& type, const std::string& identifier, const std::string& uuid,
                    const std::string& display_name) {
  p.string("PayloadType", type);
  p.string("PayloadIdentifier", identifier);
  p.string("PayloadUUID", uuid);
  p.integer("PayloadVersion", 1);
  p.string("PayloadDisplayName", display_name);
}

}  // namespace

RenewalTiming renewal_timing(const MdmProfileInputs& in) {
  if (in.validity_days <= 0) throw std::invalid_argument("MDM profile: validity_days must be positive");
  RenewalTiming t;
  t.renew_before_days = in.renew_before_days > 0 ? std::min(in.renew_before_days, in.validity_days)
                                                 : std::max(1, in.validity_days / 5);
  t.threshold_percent = std::clamp((t.renew_before_days * 100 + in.validity_days - 1) / in.validity_days, 1, 100);
  return t;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (c < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
          throw std::invalid_argument("MDM profile: control character not allowed in XML");
        out.push_back(ch);
    }
  }
  return out;
}

std::string random_uuid_v4() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);   // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);   // variant 10xx (RFC 4122 §4.1.1)
  const std::span<const std::uint8_t> octets(b);
  // RFC 4122 §3: 8-4-4-4-12 hex digits.
  return ca::to_hex(octets.subspan(0, 4)) + "-" + ca::to_hex(octets.subspan(4, 2)) + "-" +
         ca::to_hex(octets.subspan(6, 2)) + "-" + ca::to_hex(octets.subspan(8, 2)) + "-" +
         ca::to_hex(octets.subspan(10, 6));
}

namespace {

// Trust anchor for the EAP server certificate (the wifi payload's
// PayloadCertificateAnchorUUID points here).
void apple_root_payload(Plist& p, const MdmProfileInputs& in, const std::string& base, const std::string& root_uuid) {
  p.open("dict");
  payload_header(p, "com.apple.security.root", base + ".root", root_uuid, "Portcullis root CA");
  p.string("PayloadCertificateFileName", "portcullis-root.cer");
  p.data("PayloadContent", in.root_der);
  p.close("dict");
}

// SCEP enrollment. CAFingerprint: Apple documents it as "the fingerprint of the
// Certificate Authority certificate" (type data). Apple's client (Security framework,
// SecSCEP.c SecSCEPValidateCACertMessage) builds a chain from each certificate of the
// GetCACert answer (RA, issuing CA, root) and compares the fingerprint with the LAST
// certificate of that chain, i.e. our root, hashing with MD5 or SHA-1 chosen by the
// data's length (16 or 20 bytes; other lengths fail). So: the raw 20-byte SHA-1 digest
// of the root's DER (base64 in <data>, not hex). SHA-256 would be refused by that code.
void apple_scep_payload(Plist& p, const MdmProfileInputs& in, const std::string& base, const std::string& scep_uuid) {
  p.open("dict");
  payload_header(p, "com.apple.security.scep", base + ".scep", scep_uuid, "Portcullis device certificate");
  const RenewalTiming renewal = renewal_timing(in);
  p.string("PayloadDescription",
           "The certificate is valid for " + std::to_string(in.validity_days) +
               " days. To renew it, install this profile again within " + std::to_string(renewal.renew_before_days) +
               " days of its expiry" + (in.renew_before_days > 0 ? " (earlier renewals are refused)." : "."));
  p.key("PayloadContent");
  p.open("dict");
  p.string("URL", in.scep_url);
  p.string("Name", in.ca_name);
  p.key("Subject");   // array of RDNs, each an array of [OID-or-name, value] pairs
  p.open("array");
  p.open("array");
  p.open("array");
  p.bare_string("CN");
  p.bare_string(in.device);
  p.close("array");
  p.close("array");
  p.close("array");
  p.string("Challenge", in.challenge);
  p.integer("Keysize", kKeySize);
  p.string("Key Type", "RSA");
  p.integer("Key Usage", kAppleKeyUsage);
  p.data("CAFingerprint", digest(EVP_sha1(), in.root_der));
  p.integer("Retries", kRetries);
  p.integer("RetryDelay", kAppleRetryDelaySeconds);
  p.boolean("KeyIsExtractable", false);   // the private key stays in the keychain
  p.close("dict");
  p.close("dict");
}

// EAP-TLS Wi-Fi: the SCEP identity is the client certificate, the root the only anchor,
// and the server must present a certificate for our hostname.
void apple_wifi_payload(Plist& p, const MdmProfileInputs& in, const std::string& base, const std::string& wifi_uuid,
                        const std::string& scep_uuid, const std::string& root_uuid) {
  p.open("dict");
  payload_header(p, "com.apple.wifi.managed", base + ".wifi", wifi_uuid, "Wi-Fi " + in.ssid);
  p.string("SSID_STR", in.ssid);
  p.boolean("HIDDEN_NETWORK", false);
  p.boolean("AutoJoin", true);
  p.string("EncryptionType", in.wpa3 ? "WPA3" : "WPA2");
  p.string("PayloadCertificateUUID", scep_uuid);
  p.key("EAPClientConfiguration");
  p.open("dict");
  p.key("AcceptEAPTypes");
  p.open("array");
  p.bare_integer(kEapTls);
  p.close("array");
  p.key("TLSTrustedServerNames");
  p.open("array");
  p.bare_string(in.eap_server_name);
  p.close("array");
  p.key("PayloadCertificateAnchorUUID");
  p.open("array");
  p.bare_string(root_uuid);
  p.close("array");
  p.close("dict");
  p.close("dict");
}

}  // namespace

std::string apple_mobileconfig(const MdmProfileInputs& in) {
  require_common(in, true);
  const std::string base = "portcullis." + identifier_part(in.eap_server_name) + "." + identifier_part(in.device);
  const std::string top_uuid = random_uuid_v4(), root_uuid = random_uuid_v4(), scep_uuid = random_uuid_v4(),
                    wifi_uuid = random_uuid_v4();
  Plist p;
  p.text() =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
      "<plist version=\"1.0\">\n";
  p.open("dict");
  p.key("PayloadContent");
  p.open("array");
  apple_root_payload(p, in, base, root_uuid);
  apple_scep_payload(p, in, base, scep_uuid);
  apple_wifi_payload(p, in, base, wifi_uuid, scep_uuid, root_uuid);
  p.close("array");
  payload_header(p, "Configuration", base, top_uuid, "Portcullis Wi-Fi for " + in.device);
  p.string("PayloadDescription", "Enrolls a device certificate by SCEP and joins " + in.ssid + " with EAP-TLS.");
  p.boolean("PayloadRemovalDisallowed", false);
  p.close("dict");
  p.text() += "</plist>\n";
  return std::move(p.text());
}

std::string android_profile_json(const MdmProfileInputs& in) {
  require_common(in, true);
  const std::string root_guid = "{" + random_uuid_v4() + "}", network_guid = "{" + random_uuid_v4() + "}";
  // The alias under which the MDM agent stores the SCEP key pair (DevicePolicyManager
  // installKeyPair); the ONC network refers to it by ClientCertKeyPairAlias.
  const std::string alias = "portcullis-" + identifier_part(in.device);
  const RenewalTiming renewal = renewal_timing(in);
  json scep{{"url", in.scep_url},
            {"ca_identifier", in.ca_name},
            {"challenge", in.challenge},
            {"subject", "CN=" + in.device},
            {"subject_cn", in.device},
            {"key_type", "RSA"},
            {"key_size", kKeySize},
            {"key_alias", alias},
            // The root, as Apple's CAFingerprint (the top of the GetCACert chain); SHA-256
            // because an agent pinning on its own has no reason to use a weaker digest.
            {"ca_fingerprint_sha256", ca::to_hex(digest(EVP_sha256(), in.root_der))},
            // Android has no SCEP renewal setting: the agent (or the MDM) renews on this timing.
            {"validity_days", in.validity_days},
            {"renew_before_days", renewal.renew_before_days},
            {"renewal_threshold_percent", renewal.threshold_percent}};
  json eap{{"Outer", "EAP-TLS"},
           {"Identity", "anonymous"},
           {"ClientCertType", "KeyPairAlias"},
           {"ClientCertKeyPairAlias", alias},
           {"ServerCARefs", json::array({root_guid})},
           {"DomainSuffixMatch", json::array({in.eap_server_name})}};
  json onc{{"Type", "UnencryptedConfiguration"},
           {"NetworkConfigurations",
            json::array({json{{"GUID", network_guid},
                              {"Name", in.ssid},
                              {"Type", "WiFi"},
                              {"WiFi", json{{"SSID", in.ssid},
                                            {"Security", "WPA-EAP"},
                                            {"AutoConnect", true},
                                            {"EAP", std::move(eap)}}}}})},
           {"Certificates", json::array({json{{"GUID", root_guid}, {"Type", "Authority"}, {"X509", ca::base64_encode(in.root_der)}}})}};
  return json{{"device", in.device}, {"scep", std::move(scep)}, {"onc", std::move(onc)}}.dump(2) + "\n";
}

std::string windows_profile_json(const MdmProfileInputs& in) {
  require_common(in, false);
  // UniqueID names the CSP node; the same id re-runs enrollment for this device instead of
  // adding a second certificate, so it is derived from the device name.
  const std::string unique_id = "Portcullis-" + identifier_part(in.device);
  json values{{"ServerURL", in.scep_url},   // the client appends /pkiclient.exe
              {"Challenge", in.challenge},
              {"SubjectName", "CN=" + in.device},
              {"EKUMapping", kClientAuthOid},
              {"KeyUsage", kWindowsKeyUsage},
              {"KeyLength", kKeySize},
              {"HashAlgorithm", "SHA-2"},
              // The CSP documents CAThumbprint as the root CA's SHA-1 thumbprint (hex).
              {"CAThumbprint", ca::to_hex(digest(EVP_sha1(), in.root_der))},
              {"RetryCount", kRetries},
              {"RetryDelay", kWindowsRetryDelayMinutes},
              {"ValidPeriod", "Days"},
              {"ValidPeriodUnits", in.validity_days}};
  // Outside "values": the CSP has no renewal node. The MDM runs Install/Enroll again (with
  // a fresh challenge from this API) on this timing, as Intune's renewal threshold does.
  const RenewalTiming renewal = renewal_timing(in);
  return json{{"device", in.device},
              {"csp", "ClientCertificateInstall"},
              {"node", "./Device/Vendor/MSFT/ClientCertificateInstall/SCEP/" + unique_id + "/Install"},
              {"values", std::move(values)},
              {"renewal", json{{"renew_before_days", renewal.renew_before_days},
                               {"renewal_threshold_percent", renewal.threshold_percent}}}}
             .dump(2) + "\n";
}

}  // namespace portcullis::scep
