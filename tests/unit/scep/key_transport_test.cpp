// RSA PKCS#1 v1.5 key transport of the pkcsPKIEnvelope (RFC 8894 §3.2.2) without a
// padding oracle: whatever is wrong with the wrapped key or the content, the requester gets
// the same answer, by the same path (RFC 3218 §2.3.2; Bleichenbacher, CRYPTO '98).
#include "envelope_forgery.hpp"
#include "scep/envelope.hpp"
#include "scep_test_client.hpp"

#include <set>

namespace portcullis::scep::testing {
namespace {

class ScepKeyTransport : public ScepFixture {
 protected:
  PkiRequest parse(const ca::Bytes& message) {
    return parse_request(message, authority_->ra(), authority_->ra_key(), CryptoPolicy{});
  }
  ca::Bytes forged(const Requester& who, const std::string& type, EnvelopeFault fault, int n) {
    RequestOptions o;
    o.message_type = type;
    o.transaction_id = std::string(to_string(fault)) + "-" + type + "-" + std::to_string(n);
    return forged_request(make_csr(who.key.get(), "forger", kStatic), who.cert.get(), who.key.get(), authority_->ra(),
                          fault, o);
  }
};

TEST_F(ScepKeyTransport, AForgedEnvelopeWithoutAFaultEnrolls) {
  auto who = requester("forger");
  const Reply r = send(forged(who, "19", EnvelopeFault::none, 0), who);
  ASSERT_EQ(r.pki_status, "0") << r.fail_info;   // the forgery itself is sound
  EXPECT_EQ(certificate_count(), 1u);
}

// RSAES-OAEP key transport (RFC 8894 §3.2.2) with the default parameters (SHA-1) and with
// SHA-256 for the hash and MGF1 (RFC 4055 §3.1), and a PKCS#1 v1.5 envelope for another
// recipient.
TEST_F(ScepKeyTransport, OaepEnvelopesOpenAndAStrangersEnvelopeDoesNot) {
  auto who = requester("oaep");
  for (const EVP_MD* md : {static_cast<const EVP_MD*>(nullptr), EVP_sha256()}) {
    RequestOptions o;
    o.oaep = true;
    o.oaep_md = md;
    o.transaction_id = md == nullptr ? "oaep-sha1" : "oaep-sha256";
    // A device per envelope: the static challenge only enrolls new devices.
    const Reply r = send(pkcs_req(who, o.transaction_id, kStatic, o), who);
    EXPECT_EQ(r.pki_status, "0") << o.transaction_id << " failInfo " << r.fail_info;
  }
  auto stranger = requester("stranger");
  const ca::Bytes message = make_request(make_csr(who.key.get(), "oaep", kStatic), who.cert.get(), who.key.get(),
                                         stranger.cert.get(), RequestOptions{});
  const PkiRequest request = parse(message);
  ASSERT_TRUE(request.failure.has_value());
  EXPECT_EQ(request.failure_reason, "pkcsPKIEnvelope does not decrypt to a messageData");
}

TEST_F(ScepKeyTransport, EveryUndecryptableEnvelopeGetsTheSameAnswer) {
  auto who = requester("forger");
  std::set<std::string> answers;   // failInfo and the reason the audit log gets
  for (const char* type : {"19", "20"}) {       // PKCSReq, CertPoll
    for (const EnvelopeFault fault :
         {EnvelopeFault::wrong_content, EnvelopeFault::bad_padding, EnvelopeFault::wrong_key_length}) {
      for (int n = 0; n < 6; ++n) {
        const ca::Bytes message = forged(who, type, fault, n);
        const PkiRequest request = parse(message);
        ASSERT_TRUE(request.failure.has_value()) << to_string(fault) << " " << type;
        answers.insert(std::string(scep::to_string(*request.failure)) + ": " + request.failure_reason);
        const Reply r = send(message, who);
        EXPECT_EQ(r.pki_status, "2") << to_string(fault) << " " << type;
        answers.insert("CertRep failInfo " + r.fail_info);
      }
    }
  }
  EXPECT_EQ(answers, (std::set<std::string>{"CertRep failInfo 1",
                                            "badMessageCheck: pkcsPKIEnvelope does not decrypt to a messageData"}));
  EXPECT_EQ(certificate_count(), 0u);
}

// `envelope_der` with its content re-encrypted under the key the RA derives when the
// wrapped key is malformed: what a sender who knew the process secret could send.
ca::Bytes content_under_rejection_key(const ca::Bytes& envelope_der, const ca::Bytes& content) {
  const unsigned char* p = envelope_der.data();
  ca::Pkcs7Ptr p7(check_ptr(d2i_PKCS7(nullptr, &p, static_cast<long>(envelope_der.size())), "d2i_PKCS7"));
  PKCS7_ENVELOPE* env = p7->d.enveloped;
  unsigned char iv[16];
  check(ASN1_TYPE_get_octetstring(env->enc_data->algorithm->parameter, iv, sizeof iv) == sizeof iv, "IV");
  const ASN1_OCTET_STRING* wrapped = sk_PKCS7_RECIP_INFO_value(env->recipientinfo, 0)->enc_key;
  const ca::Bytes key = rejection_key(
      {ASN1_STRING_get0_data(wrapped), static_cast<std::size_t>(ASN1_STRING_length(wrapped))}, 32);
  const ca::Bytes ciphertext = aes256_cbc(key, iv, content);
  check(ASN1_OCTET_STRING_set(env->enc_data->enc_data, ciphertext.data(), static_cast<int>(ciphertext.size())),
        "content");
  return ca::to_der(p7.get(), i2d_PKCS7, "i2d_PKCS7");
}

std::optional<ca::Bytes> open(const ca::Bytes& der, const ca::Authority& authority) {
  const unsigned char* p = der.data();
  ca::Pkcs7Ptr p7(check_ptr(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())), "d2i_PKCS7"));
  return open_envelope(p7.get(), authority.ra(), authority.ra_key());
}

// A malformed block meets a key derived from the ciphertext, not a fresh random one, as
// with OpenSSL 3.2's implicit rejection: sending the same envelope twice gives the same
// outcome, well formed or not. Shown by content readable only under that derived key.
TEST_F(ScepKeyTransport, AMalformedBlockMeetsTheSameDerivedKeyEveryTime) {
  const ca::Bytes content = ca::random_bytes(100);
  const ca::Bytes der =
      content_under_rejection_key(forged_envelope(content, authority_->ra(), EnvelopeFault::bad_padding), content);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::optional<ca::Bytes> opened = open(der, *authority_);
    ASSERT_TRUE(opened.has_value()) << "attempt " << attempt;
    EXPECT_EQ(*opened, content);
  }
  // A well-formed block's own key wins over the derived one.
  EXPECT_EQ(open(forged_envelope(content, authority_->ra(), EnvelopeFault::none), *authority_), content);
}

TEST(RejectionKey, IsDeterministicPerCiphertextAndAsLongAsAsked) {
  const ca::Bytes wrapped = ca::random_bytes(256);
  ca::Bytes other = wrapped;
  other[255] ^= 0x01;
  EXPECT_EQ(rejection_key(wrapped, 32), rejection_key(wrapped, 32));
  EXPECT_NE(rejection_key(wrapped, 32), rejection_key(other, 32));
  for (std::size_t length : {8u, 16u, 24u, 32u, 48u, 64u}) EXPECT_EQ(rejection_key(wrapped, length).size(), length);
  // The shorter keys are prefixes of one HKDF output stream (RFC 5869 §2.3).
  const ca::Bytes long_key = rejection_key(wrapped, 64);
  EXPECT_EQ(rejection_key(wrapped, 16), ca::Bytes(long_key.begin(), long_key.begin() + 16));
  // An empty wrapped key (a sender may send one) still gives a key.
  EXPECT_EQ(rejection_key({}, 24), rejection_key({}, 24));
  EXPECT_NE(rejection_key({}, 32), rejection_key(wrapped, 32));
  EXPECT_TRUE(rejection_key(wrapped, 0).empty());
}

// RFC 8017 §7.2.2 step 3, for a key of a known length: the key or the fallback.
TEST(Pkcs1V15KeyOr, TakesTheKeyOnlyFromAWellFormedBlockOfTheRightLength) {
  const ca::Bytes key = ca::random_bytes(32), fallback = ca::random_bytes(32);
  const ca::Bytes good = pkcs1_v15_block(256, key);
  EXPECT_EQ(pkcs1_v15_key_or(good, fallback), key);

  const auto broken = [&](std::size_t at, std::uint8_t value) {
    ca::Bytes block = good;
    block[at] = value;
    return pkcs1_v15_key_or(block, fallback);
  };
  EXPECT_EQ(broken(0, 0x01), fallback);               // leading octet not 00
  EXPECT_EQ(broken(1, 0x01), fallback);               // block type 01 (signatures), not 02
  EXPECT_EQ(broken(1, 0x00), fallback);
  EXPECT_EQ(broken(2, 0x00), fallback);               // padding string shorter than 8 octets
  EXPECT_EQ(broken(200, 0x00), fallback);             // a separator before the key's place
  EXPECT_EQ(broken(256 - 33, 0x5A), fallback);        // no separator where the key must start
  EXPECT_EQ(pkcs1_v15_key_or(pkcs1_v15_block(256, ca::random_bytes(16)), fallback), fallback);   // shorter key
  EXPECT_EQ(pkcs1_v15_key_or(pkcs1_v15_block(256, ca::random_bytes(48)), fallback), fallback);   // longer key
  EXPECT_EQ(pkcs1_v15_key_or(ca::Bytes(40), fallback), fallback);   // a modulus too small for the key
  // A zero octet inside the key is the key's business.
  ca::Bytes with_zero = key;
  with_zero[0] = 0;
  EXPECT_EQ(pkcs1_v15_key_or(pkcs1_v15_block(256, with_zero), fallback), with_zero);
}

}  // namespace
}  // namespace portcullis::scep::testing
