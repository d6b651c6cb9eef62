// Dictionary backed by libfreeradius-radius: lookups and config value parsing.
#include "radius/attribute_values.hpp"
#include "radius/dictionary.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace portcullis::radius {
namespace {

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

TEST(RadiusDictionary, ConcurrentLookups) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (dict().find("Cisco-AVPair")->vendor != 9) ++failures[t];
        if (dict().name_of(0, attr::State) != "State") ++failures[t];
        if (dict().parse_value("Tunnel-Type:1", "VLAN").value != Bytes{1, 0, 0, 13}) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace portcullis::radius
