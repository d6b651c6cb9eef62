// Dictionary backed by libfreeradius-radius: lookups, config value parsing, log dumps.
#include "radius/attribute_values.hpp"
#include "radius/dictionary.hpp"
#include "radius/mppe.hpp"
#include "test_bytes.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace portcullis::radius {
namespace {

using test::pattern;

const Dictionary& dict() { return Dictionary::load(); }

Bytes str(std::string_view s) { return Bytes(s.begin(), s.end()); }

TEST(RadiusDictionary, LooksUpByName) {
  auto a = dict().find("Tunnel-Private-Group-Id");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->vendor, 0u);
  EXPECT_EQ(a->type, attr::TunnelPrivateGroupId);
  EXPECT_EQ(a->data_type, DataType::String);
  EXPECT_TRUE(a->has_tag);
  EXPECT_FALSE(a->secret);

  auto k = dict().find("MS-MPPE-Recv-Key");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->vendor, vendor::Microsoft);
  EXPECT_EQ(k->type, ms::MppeRecvKey);
  EXPECT_TRUE(k->secret);

  auto c = dict().find("cisco-avpair");  // case-insensitive, as in FreeRADIUS configs
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->name, "Cisco-AVPair");
  EXPECT_EQ(c->vendor, 9u);
  EXPECT_EQ(c->type, 1u);

  auto r = dict().find("Aruba-User-Role");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->vendor, 14823u);

  EXPECT_EQ(dict().find("Session-Timeout")->data_type, DataType::Integer);
  EXPECT_EQ(dict().find("Framed-IP-Address")->data_type, DataType::Ipv4Address);
  EXPECT_FALSE(dict().find("Portcullis-No-Such-Attribute").has_value());
  EXPECT_TRUE(dict().find("User-Password")->secret);
  EXPECT_TRUE(dict().find("Message-Authenticator")->secret);
}

TEST(RadiusDictionary, LooksUpByNumber) {
  EXPECT_EQ(dict().find(0, attr::EapMessage)->name, "EAP-Message");
  EXPECT_EQ(dict().find(vendor::Microsoft, ms::MppeSendKey)->name, "MS-MPPE-Send-Key");
  EXPECT_EQ(dict().name_of(0, attr::State), "State");
  EXPECT_EQ(dict().name_of(4242424, 7), "Attr-26.4242424.7");
  EXPECT_FALSE(dict().find(4242424, 7).has_value());
}

TEST(RadiusDictionary, LoadingTwiceFromAnotherDirectoryIsRefused) {
  EXPECT_NO_THROW((void)Dictionary::load());
  EXPECT_THROW((void)Dictionary::load("/nonexistent"), DictionaryError);
}

TEST(RadiusDictionary, ParsesConfiguredValues) {
  EXPECT_EQ(dict().parse_value("Tunnel-Type:1", "VLAN"), (Attribute{attr::TunnelType, Bytes{1, 0, 0, 13}}));
  EXPECT_EQ(dict().parse_value("Tunnel-Medium-Type", "IEEE-802", 1),
            (Attribute{attr::TunnelMediumType, Bytes{1, 0, 0, 6}}));
  EXPECT_EQ(dict().parse_value("Tunnel-Private-Group-Id:1", "100"),
            (Attribute{attr::TunnelPrivateGroupId, Bytes{1, '1', '0', '0'}}));
  EXPECT_EQ(dict().parse_value("Tunnel-Private-Group-Id", "100"),
            (Attribute{attr::TunnelPrivateGroupId, str("100")}));
  EXPECT_EQ(dict().parse_value("Filter-Id", "employees"), (Attribute{attr::FilterId, str("employees")}));
  EXPECT_EQ(dict().parse_value("Session-Timeout", "3600"), (Attribute{attr::SessionTimeout, encode_integer(3600)}));
  EXPECT_EQ(dict().parse_value("Framed-IP-Address", "10.1.2.3"), (Attribute{8, Bytes{10, 1, 2, 3}}));
  EXPECT_EQ(dict().parse_value("Class", "0x0102ff"), (Attribute{attr::Class, Bytes{1, 2, 0xff}}));
  EXPECT_EQ(dict().parse_value("Aruba-User-Role", "guest"),
            (Attribute{attr::VendorSpecific, encode_vendor_specific(14823, 1, str("guest"))}));
  EXPECT_EQ(dict().parse_value("Cisco-AVPair", "shell:priv-lvl=15"),
            (Attribute{attr::VendorSpecific, encode_vendor_specific(9, 1, str("shell:priv-lvl=15"))}));
}

TEST(RadiusDictionary, RejectsBadConfiguredValues) {
  EXPECT_THROW(dict().parse_value("Portcullis-No-Such-Attribute", "1"), DictionaryError);
  EXPECT_THROW(dict().parse_value("Session-Timeout", "soon"), DictionaryError);
  EXPECT_THROW(dict().parse_value("Framed-IP-Address", "10.1.2"), DictionaryError);
  EXPECT_THROW(dict().parse_value("Framed-IP-Address", "localhost"), DictionaryError);  // no DNS in config
  EXPECT_THROW(dict().parse_value("NAS-IPv6-Address", "10.1.2.3"), DictionaryError);
  EXPECT_EQ(dict().parse_value("NAS-IPv6-Address", "::1").value.size(), 16u);
  EXPECT_THROW(dict().parse_value("Filter-Id:1", "x"), DictionaryError);           // not tagged
  EXPECT_THROW(dict().parse_value("Tunnel-Type:32", "VLAN"), DictionaryError);     // tag range
  EXPECT_THROW(dict().parse_value("Tunnel-Type:x", "VLAN"), DictionaryError);
  EXPECT_THROW(dict().parse_value("Tunnel-Type:1", "VLAN", 2), DictionaryError);   // two tags
  EXPECT_THROW(dict().parse_value("Tunnel-Type", "16777216"), DictionaryError);    // > 24 bits
  EXPECT_THROW(dict().parse_value("Filter-Id", std::string(254, 'a')), DictionaryError);
  EXPECT_THROW(dict().parse_value("Cisco-AVPair", std::string(248, 'a')), DictionaryError);
  EXPECT_THROW(dict().parse_value("Auth-Type", "Accept"), DictionaryError);        // server-internal
  // Per-packet encrypted attributes cannot be fixed configuration values; the value
  // must not leak into the message.
  try {
    (void)dict().parse_value("User-Password", "hunter2");
    FAIL() << "User-Password accepted";
  } catch (const DictionaryError& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
  }
  EXPECT_THROW(dict().parse_value("MS-MPPE-Recv-Key", "0x00"), DictionaryError);
  EXPECT_THROW(dict().parse_value("Tunnel-Password:1", "x"), DictionaryError);
}

Packet sample_reply(const Authenticator& ra) {
  Packet p;
  p.code = Code::AccessAccept;
  p.identifier = 17;
  p.add(attr::UserName, "bob");
  p.add(attr::UserPassword, as_bytes("PLAINTEXT-SECRET"));
  p.add(attr::MessageAuthenticator, ByteView(Bytes(16, 0xAB)));
  p.add(attr::TunnelType, encode_tagged_integer(1, kTunnelTypeVlan));
  p.add(attr::TunnelPrivateGroupId, encode_tagged_string(1, as_bytes("100")));
  p.add_vendor(14823, 1, as_bytes("guest"));
  add_mppe_keys(p, Bytes(32, 0xC5), Bytes(32, 0xD6), "secret", ra);
  p.add(attr::EapMessage, ByteView(Bytes{3, 17, 0, 4}));
  p.add(200, ByteView(Bytes{1, 2}));
  p.add(attr::VendorSpecific, ByteView(Bytes{0, 0, 1}));  // malformed VSA
  return p;
}

TEST(RadiusDictionary, FormatsPacketsAndHidesSecrets) {
  const std::string text = dict().format(sample_reply(random_authenticator()));
  EXPECT_NE(text.find("Access-Accept Id 17"), std::string::npos) << text;
  EXPECT_NE(text.find("User-Name = \"bob\""), std::string::npos) << text;
  EXPECT_NE(text.find("Tunnel-Type:1 = VLAN"), std::string::npos) << text;
  EXPECT_NE(text.find("Tunnel-Private-Group-Id:1 = \"100\""), std::string::npos) << text;
  EXPECT_NE(text.find("Aruba-User-Role = \"guest\""), std::string::npos) << text;
  EXPECT_NE(text.find("EAP-Message = 0x03110004"), std::string::npos) << text;
  EXPECT_NE(text.find("Attr-200 = 0x0102"), std::string::npos) << text;
  EXPECT_NE(text.find("User-Password = <hidden"), std::string::npos) << text;
  EXPECT_NE(text.find("Message-Authenticator = <hidden"), std::string::npos) << text;
  EXPECT_NE(text.find("MS-MPPE-Recv-Key = <hidden"), std::string::npos) << text;
  EXPECT_NE(text.find("MS-MPPE-Send-Key = <hidden"), std::string::npos) << text;
  EXPECT_EQ(text.find("PLAINTEXT"), std::string::npos) << text;
  EXPECT_EQ(text.find("abab"), std::string::npos) << text;
  EXPECT_EQ(text.find("ABAB"), std::string::npos) << text;
}

TEST(RadiusDictionary, ConcurrentLookupsAndFormatting) {
  const Authenticator ra = random_authenticator();
  const std::string expected = dict().format(sample_reply(ra));
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (dict().find("Cisco-AVPair")->vendor != 9) ++failures[t];
        if (dict().name_of(0, attr::State) != "State") ++failures[t];
        if (dict().format(sample_reply(ra)).size() != expected.size()) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace portcullis::radius
