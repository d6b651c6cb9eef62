// CMS-level behaviour: algorithms accepted and echoed, and damaged messages.
#include "scep/http_routes.hpp"
#include "scep_test_client.hpp"

#include <set>

namespace portcullis::scep::testing {
namespace {

using ScepMessage = ScepFixture;

TEST_F(ScepMessage, ReplyUsesTheRequestsDigestAndCipher) {
  struct Case {
    const EVP_CIPHER* cipher;
    const EVP_MD* digest;
    bool oaep;
  };
  const Case cases[] = {{EVP_aes_128_cbc(), EVP_sha512(), false},
                        {EVP_des_ede3_cbc(), EVP_sha256(), false},
                        {EVP_aes_256_cbc(), EVP_sha256(), true}};
  int n = 0;
  for (const auto& c : cases) {
    auto who = requester("alg-" + std::to_string(n));
    RequestOptions o;
    o.cipher = c.cipher;
    o.digest = c.digest;
    o.oaep = c.oaep;
    o.transaction_id = "alg-" + std::to_string(n++);
    const Reply r = send(pkcs_req(who, o.transaction_id, kStatic, o), who);
    ASSERT_EQ(r.pki_status, "0") << o.transaction_id << " failInfo " << r.fail_info;
    EXPECT_EQ(r.digest_nid, EVP_MD_get_type(c.digest));
    EXPECT_EQ(r.certificates.size(), 1u);
  }
}

// An EC requester (RFC 8894 §3.3.2: the reply is encrypted to the signer's key, ECDH for
// an EC one) enrolls its EC CSR, and its signature is checked like an RSA one's.
TEST_F(ScepMessage, EcRequesterEnrollsAndItsSignatureIsChecked) {
  Requester who;
  who.key.reset(check_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "keygen"));
  who.cert = self_signed(who.key.get(), "ec-requester");
  RequestOptions o;
  o.transaction_id = "ec-1";
  const Reply r = send(pkcs_req(who, "ec-requester", kStatic, o), who);
  ASSERT_EQ(r.pki_status, "0") << "failInfo " << r.fail_info;
  ASSERT_EQ(r.certificates.size(), 1u);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(r.certificates[0].get()), who.key.get()), 1);

  // The same request with its ECDSA signature damaged.
  o.transaction_id = "ec-2";
  const ca::Bytes good = pkcs_req(who, "ec-requester", kStatic, o);
  const unsigned char* p = good.data();
  ca::CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(good.size())));
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
  ASN1_OCTET_STRING* sig = CMS_SignerInfo_get0_signature(si);
  std::vector<unsigned char> bytes(ASN1_STRING_get0_data(sig), ASN1_STRING_get0_data(sig) + ASN1_STRING_length(sig));
  bytes[bytes.size() - 3] ^= 0x55;   // inside the s INTEGER of the ECDSA-Sig-Value
  ASN1_OCTET_STRING_set(sig, bytes.data(), static_cast<int>(bytes.size()));
  const Reply refused = send(ca::to_der(cms.get(), i2d_CMS_ContentInfo, "i2d"), who);
  EXPECT_EQ(refused.pki_status, "2");
  EXPECT_EQ(refused.fail_info, "1");   // badMessageCheck
  EXPECT_EQ(certificate_count(), 1u);
}

TEST_F(ScepMessage, Sha1WithoutLegacyCryptoIsBadAlg) {
  auto who = requester("sha1");
  RequestOptions o;
  o.digest = EVP_sha1();
  const Reply r = send(pkcs_req(who, "sha1", kStatic, o), who);
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "0");
  EXPECT_EQ(r.digest_nid, NID_sha256);
  EXPECT_EQ(certificate_count(), 0u);
}

TEST_F(ScepMessage, GarbageAndTruncatedMessagesAreMalformed) {
  const ca::Bytes garbage{'h', 'e', 'l', 'l', 'o'};
  EXPECT_THROW(enrollment_->handle(garbage), MalformedMessage);
  EXPECT_THROW(enrollment_->handle(ca::Bytes{}), MalformedMessage);
  auto who = requester("t");
  const ca::Bytes message = pkcs_req(who, "t", kStatic);
  for (std::size_t cut : {std::size_t{1}, message.size() / 2, message.size() - 1}) {
    const ca::Bytes truncated(message.begin(), message.begin() + static_cast<long>(cut));
    EXPECT_THROW(enrollment_->handle(truncated), MalformedMessage) << cut;
  }
  EXPECT_EQ(certificate_count(), 0u);
  EXPECT_EQ(enrollment_->counters().malformed, 5u);
}

TEST_F(ScepMessage, BitFlipsAreRefusedOrHarmless) {
  auto who = requester("flip");
  const ca::Bytes message = pkcs_req(who, "flip", kStatic);
  int refused = 0, malformed = 0;
  std::set<std::string> issued;
  // Every 7th byte, one bit each: headers, attributes, signature, envelope, and the
  // parts no signature covers (the self-signed certificate's own fields, the
  // digestAlgorithms set). A flip there changes nothing that matters: the request is
  // still the requester's and the certificate is for its key.
  for (std::size_t i = 0; i < message.size(); i += 7) {
    ca::Bytes flipped = message;
    flipped[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
    try {
      const Reply r = send(flipped, who);
      if (r.pki_status == "0") {
        EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(r.certificates.at(0).get()), who.key.get()), 1) << "byte " << i;
        issued.insert(ca::serial_hex(r.certificates.at(0).get()));
      } else {
        ++refused;
      }
    } catch (const MalformedMessage&) {
      ++malformed;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(malformed, 0);
  // Nothing half-written: every certificate in the ledger went to the requester.
  EXPECT_EQ(certificate_count(), issued.size());
}

TEST_F(ScepMessage, SignatureByAnotherKeyIsBadMessageCheck) {
  auto who = requester("forger");
  auto other = rsa_key(2048);
  // Certificate of `who`, signature by `other`: CMS_add1_signer refuses a mismatched
  // pair, so the signature bytes are replaced after signing instead.
  const ca::Bytes good = pkcs_req(who, "forger", kStatic);
  const unsigned char* p = good.data();
  ca::CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(good.size())));
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
  ASN1_OCTET_STRING* sig = CMS_SignerInfo_get0_signature(si);
  std::vector<unsigned char> bytes(ASN1_STRING_get0_data(sig), ASN1_STRING_get0_data(sig) + ASN1_STRING_length(sig));
  bytes[bytes.size() / 2] ^= 0x55;
  ASN1_OCTET_STRING_set(sig, bytes.data(), static_cast<int>(bytes.size()));
  const ca::Bytes forged = ca::to_der(cms.get(), i2d_CMS_ContentInfo, "i2d");
  const Reply r = send(forged, who);
  EXPECT_EQ(r.pki_status, "2");
  EXPECT_EQ(r.fail_info, "1");
  EXPECT_EQ(certificate_count(), 0u);
}

TEST_F(ScepMessage, EnvelopeForAnotherRecipientIsBadMessageCheck) {
  auto who = requester("lost");
  auto stranger = requester("stranger");
  const ca::Bytes message = make_request(make_csr(who.key.get(), "lost", kStatic), who.cert.get(), who.key.get(),
                                         stranger.cert.get(), RequestOptions{});
  const Reply r = send(message, who);
  EXPECT_EQ(r.fail_info, "1");
}

TEST_F(ScepMessage, DegeneratePkcs7ListsCertificatesInOrder) {
  const std::vector<const X509*> certs{authority_->ra(), authority_->issuing()};
  const ca::Bytes der = degenerate_pkcs7(certs);
  const unsigned char* p = der.data();
  ca::Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_TRUE(p7);
  ASSERT_EQ(sk_X509_num(p7->d.sign->cert), 2);
  EXPECT_EQ(X509_cmp(sk_X509_value(p7->d.sign->cert, 0), authority_->ra()), 0);
  EXPECT_EQ(p7->d.sign->contents->d.ptr, nullptr);   // certs-only: no content
}

TEST(ScepGetMessage, AcceptsStandardAndUrlSafeBase64WithEscapesAndWhitespace) {
  // 0xfb 0xff 0xbf encodes as "+/+/" in standard and "-_-_" in URL-safe base64.
  const std::string expected("\xfb\xff\xbf", 3);
  EXPECT_EQ(decode_get_message("+/+/"), expected);
  EXPECT_EQ(decode_get_message("-_-_"), expected);
  EXPECT_EQ(decode_get_message("%2B%2F%2b%2f"), expected);
  EXPECT_EQ(decode_get_message("+/\n+/"), expected);
  EXPECT_EQ(decode_get_message("+%0D%0A/+/"), expected);
  EXPECT_EQ(decode_get_message("aGk="), "hi");
  EXPECT_EQ(decode_get_message("aGk"), "hi");
  // Sloppy encoders: the CMS signature protects the message, not its base64 text.
  EXPECT_EQ(decode_get_message("aGk=="), "hi");    // padding past the quantum
  EXPECT_EQ(decode_get_message("aGk==="), "hi");
  EXPECT_EQ(decode_get_message("aGl"), "hi");      // non-zero bits after the last octet
  EXPECT_EQ(decode_get_message("aGl="), "hi");
  EXPECT_FALSE(decode_get_message("a"));           // not a whole octet
  EXPECT_FALSE(decode_get_message("a*b="));
  EXPECT_FALSE(decode_get_message("%zz"));
  EXPECT_FALSE(decode_get_message("%2"));
}

}  // namespace
}  // namespace portcullis::scep::testing
