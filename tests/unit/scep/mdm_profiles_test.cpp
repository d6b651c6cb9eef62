// The MDM document generators: XML escaping, UUID format, the cross-references between the
// Apple payloads, and the Android/Windows JSON values. Full plist parsing (Python plistlib)
// is in tests/integration/test_mdm_profiles.py.
#include "scep/mdm_profiles.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <regex>
#include <set>

namespace portcullis::scep {
namespace {

MdmProfileInputs inputs() {
  MdmProfileInputs in;
  in.device = "ipad-7";
  in.challenge = "0123456789abcdef0123456789abcdef";
  in.scep_url = "https://pki.example.net/scep";
  in.ca_name = "portcullis";
  in.eap_server_name = "radius.example.net";
  in.ssid = "Corp";
  in.root_der = {0x30, 0x03, 0x02, 0x01, 0x01};
  in.validity_days = 90;
  return in;
}

// The <string> after <key>name</key>, for every occurrence, in document order.
std::vector<std::string> strings_after(const std::string& doc, const std::string& key) {
  std::vector<std::string> out;
  const std::regex re("<key>" + key + "</key>\\s*<string>([^<]*)</string>");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

std::string sha1_hex(const ca::Bytes& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  return ca::to_hex(std::span<const std::uint8_t>(md, len));
}

TEST(MdmProfiles, XmlEscapeCoversTheFiveSpecialCharacters) {
  EXPECT_EQ(xml_escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  EXPECT_EQ(xml_escape("caf\xC3\xA9\tx"), "caf\xC3\xA9\tx");   // UTF-8 and TAB pass through
  EXPECT_THROW(xml_escape(std::string("a\x01" "b")), std::invalid_argument);
  EXPECT_THROW(xml_escape(std::string("a\0b", 3)), std::invalid_argument);
}

TEST(MdmProfiles, UuidsAreRfc4122Version4AndDistinct) {
  const std::regex v4("^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string u = random_uuid_v4();
    EXPECT_TRUE(std::regex_match(u, v4)) << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(MdmProfiles, AppleSsidAndDeviceNamesAreEscaped) {
  MdmProfileInputs in = inputs();
  in.ssid = "R&D <5G>";
  in.device = "bob's \"mac\"";
  const std::string doc = apple_mobileconfig(in);
  EXPECT_NE(doc.find("<string>R&amp;D &lt;5G&gt;</string>"), std::string::npos);
  EXPECT_NE(doc.find("<string>bob&apos;s &quot;mac&quot;</string>"), std::string::npos);
  EXPECT_EQ(doc.find("R&D"), std::string::npos);
  EXPECT_EQ(doc.find("<5G>"), std::string::npos);
  // Identifiers stay reverse-DNS-like whatever the device is called.
  for (const auto& id : strings_after(doc, "PayloadIdentifier"))
    EXPECT_TRUE(std::regex_match(id, std::regex("^[A-Za-z0-9.-]+$"))) << id;

  in.ssid = std::string("bad\x07ssid");
  EXPECT_THROW(apple_mobileconfig(in), std::invalid_argument);
  in.ssid = std::string(33, 'x');   // IEEE 802.11: at most 32 octets
  EXPECT_THROW(apple_mobileconfig(in), std::invalid_argument);
}

TEST(MdmProfiles, ApplePayloadsReferenceEachOther) {
  MdmProfileInputs in = inputs();
  const std::string doc = apple_mobileconfig(in);
  const auto types = strings_after(doc, "PayloadType");
  ASSERT_EQ(types, (std::vector<std::string>{"com.apple.security.root", "com.apple.security.scep",
                                             "com.apple.wifi.managed", "Configuration"}));
  const auto uuids = strings_after(doc, "PayloadUUID");
  ASSERT_EQ(uuids.size(), 4u);
  EXPECT_EQ(std::set<std::string>(uuids.begin(), uuids.end()).size(), 4u);
  EXPECT_EQ(strings_after(doc, "PayloadCertificateUUID"), std::vector<std::string>{uuids[1]});
  EXPECT_TRUE(std::regex_search(
      doc, std::regex("<key>PayloadCertificateAnchorUUID</key>\\s*<array>\\s*<string>" + uuids[0] + "</string>")));
  EXPECT_EQ(strings_after(doc, "EncryptionType"), std::vector<std::string>{"WPA2"});
  EXPECT_EQ(strings_after(doc, "Challenge"), std::vector<std::string>{in.challenge});
  EXPECT_EQ(strings_after(doc, "URL"), std::vector<std::string>{in.scep_url});
  EXPECT_TRUE(std::regex_search(doc, std::regex("<key>Keysize</key>\\s*<integer>2048</integer>")));
  EXPECT_NE(doc.find("<data>MAMCAQE=</data>"), std::string::npos);   // base64 of root_der
  // CAFingerprint: the raw SHA-1 of the root (Apple accepts 16- or 20-byte digests only).
  EXPECT_TRUE(std::regex_search(doc, std::regex("<key>CAFingerprint</key>\\s*<data>[A-Za-z0-9+/]{27}=</data>")));
  // Fresh UUIDs for every document.
  EXPECT_NE(strings_after(apple_mobileconfig(in), "PayloadUUID"), uuids);

  in.wpa3 = true;
  EXPECT_EQ(strings_after(apple_mobileconfig(in), "EncryptionType"), std::vector<std::string>{"WPA3"});
}

TEST(MdmProfiles, AndroidOncRefersToTheRootCertificate) {
  const auto doc = nlohmann::json::parse(android_profile_json(inputs()));
  const auto& net = doc.at("onc").at("NetworkConfigurations").at(0);
  const auto& cert = doc.at("onc").at("Certificates").at(0);
  EXPECT_EQ(cert.at("Type"), "Authority");
  EXPECT_EQ(cert.at("X509"), "MAMCAQE=");
  EXPECT_EQ(net.at("WiFi").at("EAP").at("ServerCARefs"), nlohmann::json::array({cert.at("GUID")}));
  EXPECT_EQ(net.at("WiFi").at("EAP").at("DomainSuffixMatch"), nlohmann::json::array({"radius.example.net"}));
  EXPECT_EQ(net.at("WiFi").at("EAP").at("Outer"), "EAP-TLS");
  EXPECT_EQ(net.at("WiFi").at("EAP").at("ClientCertKeyPairAlias"), doc.at("scep").at("key_alias"));
  EXPECT_EQ(net.at("WiFi").at("Security"), "WPA-EAP");
  EXPECT_EQ(doc.at("scep").at("challenge"), inputs().challenge);
  EXPECT_EQ(doc.at("scep").at("key_size"), 2048);
}

TEST(MdmProfiles, WindowsValuesFollowTheCsp) {
  const MdmProfileInputs in = inputs();
  const auto doc = nlohmann::json::parse(windows_profile_json(in));
  const auto& v = doc.at("values");
  EXPECT_EQ(v.at("CAThumbprint"), sha1_hex(in.root_der));
  EXPECT_EQ(v.at("KeyUsage"), 0xA0);
  EXPECT_EQ(v.at("EKUMapping"), "1.3.6.1.5.5.7.3.2");
  EXPECT_EQ(v.at("SubjectName"), "CN=ipad-7");
  EXPECT_EQ(v.at("ValidPeriodUnits"), 90);
  EXPECT_EQ(doc.at("node"), "./Device/Vendor/MSFT/ClientCertificateInstall/SCEP/Portcullis-ipad-7/Install");

  MdmProfileInputs missing = inputs();
  missing.challenge.clear();
  EXPECT_THROW(windows_profile_json(missing), std::invalid_argument);
}

// The renewal timing each document carries: the profile's window when it has one, else
// the last fifth of the validity; as a percentage of the validity, rounded up.
TEST(MdmProfiles, RenewalTimingFollowsTheProfile) {
  MdmProfileInputs in = inputs();   // 90 days
  RenewalTiming t = renewal_timing(in);
  EXPECT_EQ(t.renew_before_days, 18);
  EXPECT_EQ(t.threshold_percent, 20);
  in.renew_before_days = 10;
  t = renewal_timing(in);
  EXPECT_EQ(t.renew_before_days, 10);
  EXPECT_EQ(t.threshold_percent, 12);   // 10/90 = 11.1 %, rounded up: never renew after the window
  in.renew_before_days = 400;           // longer than the validity: any time, i.e. 100 %
  EXPECT_EQ(renewal_timing(in).renew_before_days, 90);
  EXPECT_EQ(renewal_timing(in).threshold_percent, 100);
  in.validity_days = 3;
  in.renew_before_days = 0;
  EXPECT_EQ(renewal_timing(in).renew_before_days, 1);   // never 0 days

  in = inputs();
  in.renew_before_days = 10;
  const auto windows = nlohmann::json::parse(windows_profile_json(in));
  EXPECT_EQ(windows.at("renewal").at("renew_before_days"), 10);
  EXPECT_EQ(windows.at("renewal").at("renewal_threshold_percent"), 12);
  EXPECT_FALSE(windows.at("values").contains("renew_before_days"));   // not a CSP node
  const auto android = nlohmann::json::parse(android_profile_json(in));
  EXPECT_EQ(android.at("scep").at("renew_before_days"), 10);
  EXPECT_EQ(android.at("scep").at("validity_days"), 90);
  const std::string apple = apple_mobileconfig(in);
  EXPECT_NE(apple.find("valid for 90 days. To renew it, install this profile again within 10 days of its expiry "
                       "(earlier renewals are refused)."),
            std::string::npos);
}

}  // namespace
}  // namespace portcullis::scep
