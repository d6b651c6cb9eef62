// CrlPublisher against a real CA and the real SQLite ledger: the CRL must be what RFC 5280
// §5 says and what `openssl crl` accepts.
#include "ca/crl.hpp"

#include "revocation_fixture.hpp"

#include <openssl/pem.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <thread>
#include <vector>

namespace portcullis::ca::test {
namespace {

X509CrlPtr parse_der(const Bytes& der) {
  const unsigned char* p = der.data();
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_EQ(p, der.data() + der.size()) << "trailing bytes after the CRL";
  return crl;
}

std::int64_t crl_number(X509_CRL* crl, int* critical) {
  Asn1IntegerPtr number(static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, critical, nullptr)));
  if (!number) return -1;
  std::int64_t value = -1;
  EXPECT_EQ(ASN1_INTEGER_get_int64(&value, number.get()), 1);
  return value;
}

// serial hex -> (revocationDate, reason code or -1 when the extension is absent)
std::map<std::string, std::pair<UnixTime, long>> entries(X509_CRL* crl) {
  std::map<std::string, std::pair<UnixTime, long>> out;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, i);
    BignumPtr bn(ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(entry), nullptr));
    Bytes magnitude(static_cast<std::size_t>(BN_num_bytes(bn.get())));
    BN_bn2bin(bn.get(), magnitude.data());
    int critical = -2;
    Asn1EnumeratedPtr reason(
        static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &critical, nullptr)));
    if (reason) {
      EXPECT_EQ(critical, 0) << "reasonCode must be non-critical";
    }
    out[to_hex(magnitude)] = {asn1_time_to_unix(X509_REVOKED_get0_revocationDate(entry)),
                              reason ? ASN1_ENUMERATED_get(reason.get()) : -1};
  }
  return out;
}

class CrlTest : public RevocationFixture {
 protected:
  CrlPublisher make_publisher(CrlSettings settings = {}) { return CrlPublisher(authority(), *ledger_, settings); }
};

TEST_F(CrlTest, NoCrlBeforeTheFirstRegeneration) {
  CrlPublisher publisher = make_publisher();
  EXPECT_EQ(publisher.current(), nullptr);
}

TEST_F(CrlTest, SignedV2CrlListsExactlyTheRevokedSerialsWithReasons) {
  const X509Ptr good = issue("laptop-1");
  const X509Ptr compromised = issue("laptop-2");
  const X509Ptr unspecified = issue("laptop-3");
  const X509Ptr superseded = issue("laptop-4");
  revoke(compromised.get(), RevocationReason::key_compromise, now_ - 120);
  revoke(unspecified.get(), RevocationReason::unspecified, now_ - 60);
  revoke(superseded.get(), RevocationReason::superseded, now_ - 30);

  CrlPublisher publisher = make_publisher();
  publisher.regenerate(now_);
  const auto published = publisher.current();
  ASSERT_NE(published, nullptr);

  X509CrlPtr crl = parse_der(published->der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_get_version(crl.get()), X509_CRL_VERSION_2);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(authority().issuing())), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(authority().issuing())), 0);
  int digest_nid = NID_undef;
  int key_nid = NID_undef;
  ASSERT_EQ(OBJ_find_sigid_algs(X509_CRL_get_signature_nid(crl.get()), &digest_nid, &key_nid), 1);
  EXPECT_EQ(digest_nid, EVP_MD_get_type(authority().signing_digest()));

  const auto listed = entries(crl.get());
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed.count(serial_hex(good.get())), 0u);
  EXPECT_EQ(listed.at(serial_hex(compromised.get())), std::make_pair(now_ - 120, 1L));
  // §5.3.1: reasonCode SHOULD be absent rather than unspecified(0).
  EXPECT_EQ(listed.at(serial_hex(unspecified.get())), std::make_pair(now_ - 60, -1L));
  EXPECT_EQ(listed.at(serial_hex(superseded.get())), std::make_pair(now_ - 30, 4L));

  // The PEM form carries the very same CRL.
  BioPtr bio(BIO_new_mem_buf(published->pem.data(), static_cast<int>(published->pem.size())));
  X509CrlPtr from_pem(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(from_pem);
  EXPECT_EQ(X509_CRL_cmp(from_pem.get(), crl.get()), 0);
  EXPECT_EQ(i2d_X509_CRL(from_pem.get(), nullptr), static_cast<int>(published->der.size()));
}

TEST_F(CrlTest, ValidityWindowNumberAndAuthorityKeyIdentifier) {
  CrlSettings settings;
  settings.validity_hours = 48;
  CrlPublisher publisher = make_publisher(settings);
  publisher.regenerate(now_);
  const auto published = publisher.current();
  ASSERT_NE(published, nullptr);
  EXPECT_EQ(published->this_update, now_);
  EXPECT_EQ(published->next_update, now_ + 48 * 3600);

  X509CrlPtr crl = parse_der(published->der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(asn1_time_to_unix(X509_CRL_get0_lastUpdate(crl.get())), now_);
  ASSERT_NE(X509_CRL_get0_nextUpdate(crl.get()), nullptr);
  EXPECT_EQ(asn1_time_to_unix(X509_CRL_get0_nextUpdate(crl.get())), now_ + 48 * 3600);
  EXPECT_EQ(X509_CRL_get_REVOKED(crl.get()) == nullptr || sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get())) == 0,
            true);

  int critical = -2;
  EXPECT_EQ(crl_number(crl.get(), &critical), published->number);
  EXPECT_EQ(critical, 0) << "CRL number is non-critical (§5.2.3)";
  EXPECT_GT(published->number, 0);

  AuthorityKeyIdPtr akid(static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, &critical, nullptr)));
  ASSERT_TRUE(akid);
  EXPECT_EQ(critical, 0);
  Asn1OctetStringPtr ski(static_cast<ASN1_OCTET_STRING*>(
      X509_get_ext_d2i(authority().issuing(), NID_subject_key_identifier, nullptr, nullptr)));
  ASSERT_TRUE(ski);
  ASSERT_NE(akid->keyid, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(akid->keyid, ski.get()), 0);
}

TEST_F(CrlTest, NumberStrictlyIncreasesAcrossRegenerationsAndRestarts) {
  std::int64_t last = 0;
  {
    CrlPublisher publisher = make_publisher();
    for (int i = 0; i < 3; ++i) {
      publisher.regenerate(now_ + i);
      const auto published = publisher.current();
      X509CrlPtr crl = parse_der(published->der);
      ASSERT_TRUE(crl);
      EXPECT_EQ(crl_number(crl.get(), nullptr), published->number);
      EXPECT_GT(published->number, last);
      last = published->number;
    }
  }
  // A new publisher on the same ledger (a restart) continues from there.
  CrlPublisher restarted = make_publisher();
  restarted.regenerate(now_);
  EXPECT_GT(restarted.current()->number, last);
}

TEST_F(CrlTest, PublishedCrlIsImmutableWhileANewOneIsSwappedIn) {
  CrlPublisher publisher = make_publisher();
  publisher.regenerate(now_);
  const auto before = publisher.current();
  const Bytes der_before = before->der;

  const X509Ptr cert = issue("phone-1");
  revoke(cert.get(), RevocationReason::cessation_of_operation, now_);
  publisher.regenerate(now_ + 10);
  const auto after = publisher.current();

  EXPECT_NE(before, after);
  EXPECT_EQ(before->der, der_before);
  X509CrlPtr old_crl = parse_der(before->der);
  X509CrlPtr new_crl = parse_der(after->der);
  EXPECT_EQ(entries(old_crl.get()).size(), 0u);
  EXPECT_EQ(entries(new_crl.get()).count(serial_hex(cert.get())), 1u);
  EXPECT_GT(after->number, before->number);
}

TEST_F(CrlTest, RefreshIfDueRegeneratesOnlyInsideTheRefreshWindow) {
  CrlSettings settings;
  settings.validity_hours = 24;
  settings.refresh_before_hours = 12;
  CrlPublisher publisher = make_publisher(settings);

  publisher.refresh_if_due(now_);   // nothing published yet
  const auto first = publisher.current();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->this_update, now_);

  publisher.refresh_if_due(now_ + 3600);
  EXPECT_EQ(publisher.current(), first);
  // nextUpdate - now == 12 h exactly: not yet nearer than refresh_before_hours.
  publisher.refresh_if_due(now_ + 12 * 3600);
  EXPECT_EQ(publisher.current(), first);

  publisher.refresh_if_due(now_ + 12 * 3600 + 1);
  const auto second = publisher.current();
  ASSERT_NE(second, first);
  EXPECT_EQ(second->this_update, now_ + 12 * 3600 + 1);
  EXPECT_EQ(second->next_update, now_ + 36 * 3600 + 1);
  EXPECT_GT(second->number, first->number);

  // Past nextUpdate altogether (the service was asleep): regenerated too.
  publisher.refresh_if_due(now_ + 100 * 3600);
  EXPECT_EQ(publisher.current()->this_update, now_ + 100 * 3600);
}

TEST_F(CrlTest, ConcurrentRegenerationsPublishDistinctNumbersInOrder) {
  for (int i = 0; i < 5; ++i) {
    const X509Ptr cert = issue("fleet-" + std::to_string(i));
    revoke(cert.get(), RevocationReason::affiliation_changed, now_);
  }
  CrlPublisher publisher = make_publisher();
  publisher.regenerate(now_);
  const std::int64_t start = publisher.current()->number;

  std::vector<std::thread> threads;
  std::atomic<bool> failed{false};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) publisher.regenerate(now_);
    });
    threads.emplace_back([&] {
      std::int64_t seen = 0;
      for (int i = 0; i < 200; ++i) {
        const auto crl = publisher.current();
        // Readers only ever see whole CRLs, and numbers never go backwards.
        if (!crl || crl->number < seen || crl->der.empty()) failed = true;
        if (crl) seen = crl->number;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_FALSE(failed);
  const auto last = publisher.current();
  EXPECT_EQ(last->number, start + 20);
  X509CrlPtr crl = parse_der(last->der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(entries(crl.get()).size(), 5u);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(authority().issuing())), 1);
}

TEST_F(CrlTest, OpensslCommandLineVerifiesTheCrlAgainstTheChain) {
  const X509Ptr cert = issue("printer-1");
  revoke(cert.get(), RevocationReason::key_compromise, now_);
  CrlPublisher publisher = make_publisher();
  publisher.regenerate(now_);

  const std::string crl_path = (dir_ / "crl.der").string();
  const std::string out_path = (dir_ / "crl.txt").string();
  write_file(crl_path, std::string_view(reinterpret_cast<const char*>(publisher.current()->der.data()),
                                        publisher.current()->der.size()));
  const std::string command = "openssl crl -inform DER -in '" + crl_path + "' -CAfile '" +
                              authority().paths().chain() + "' -noout -text > '" + out_path + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_file(out_path);
  const std::string text = read_file(out_path);
  EXPECT_NE(text.find("verify OK"), std::string::npos) << text;
  EXPECT_NE(text.find(serial_hex(cert.get())), std::string::npos) << text;
  EXPECT_NE(text.find("Key Compromise"), std::string::npos) << text;
}

}  // namespace
}  // namespace portcullis::ca::test
