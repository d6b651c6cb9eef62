// ca/x509: encodings, certificate facts, and the atomic, permission-safe file writer.
#include "ca/x509.hpp"

#include "ca/cert_builder.hpp"
#include "ca/issuer.hpp"
#include "signing_support.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include <filesystem>
#include <sys/stat.h>

namespace portcullis::ca {
namespace {

using testing::TempDir;

// A small self-signed certificate with every SAN type we format.
X509Ptr sample_cert(EVP_PKEY* key) {
  X509NamePtr name = make_name({{"CN", "example device"}, {"O", "Acme, Inc."}});
  X509Ptr cert = new_certificate(random_serial(), name.get(), name.get(), key, 1700000000, 1800000000);
  GeneralNamesPtr names(GENERAL_NAMES_new());
  sk_GENERAL_NAME_push(names.get(), dns_name("host.example.com").release());
  sk_GENERAL_NAME_push(names.get(), uri_name("IntuneDeviceId://abc-123").release());
  sk_GENERAL_NAME_push(names.get(), ip_name("192.0.2.7").release());
  sk_GENERAL_NAME_push(names.get(), ip_name("2001:db8::1").release());
  // email has no helper in cert_builder (we never issue it ourselves): build it here.
  GeneralNamePtr email(GENERAL_NAME_new());
  ASN1_IA5STRING* s = ASN1_IA5STRING_new();
  ASN1_STRING_set(s, "user@example.com", -1);
  GENERAL_NAME_set0_value(email.get(), GEN_EMAIL, s);
  sk_GENERAL_NAME_push(names.get(), email.release());
  add_subject_alt_names(cert.get(), names.get());
  sign_certificate(cert.get(), key, EVP_sha256());
  return cert;
}

TEST(Hex, RoundTripsAndIsUppercase) {
  const Bytes data = {0x00, 0x01, 0xAB, 0xFF, 0x7f};
  EXPECT_EQ(to_hex(data), "0001ABFF7F");
  EXPECT_EQ(from_hex("0001abff7F"), data);
  EXPECT_EQ(to_hex(Bytes{}), "");
  EXPECT_TRUE(from_hex("").empty());
}

TEST(Hex, RejectsOddLengthAndNonHex) {
  EXPECT_THROW(from_hex("ABC"), std::invalid_argument);
  EXPECT_THROW(from_hex("zz"), std::invalid_argument);
  EXPECT_THROW(from_hex("0x12"), std::invalid_argument);
  EXPECT_THROW(from_hex("1g"), std::invalid_argument);
}

TEST(Hex, LowercaseAndDigitValues) {
  EXPECT_EQ(to_lower_hex(Bytes{0xAB, 0x0C}), "ab0c");
  EXPECT_EQ(hex_digit_value('0'), 0);
  EXPECT_EQ(hex_digit_value('f'), 15);
  EXPECT_EQ(hex_digit_value('F'), 15);
  EXPECT_EQ(hex_digit_value('g'), -1);
  EXPECT_EQ(hex_digit_value('\0'), -1);
}

TEST(Hex, DecodesIntoAFixedBufferOnlyAtItsExactSize) {
  std::array<std::uint8_t, 2> out{};
  EXPECT_TRUE(from_hex("a0B1", out));
  EXPECT_EQ(out, (std::array<std::uint8_t, 2>{0xA0, 0xB1}));
  EXPECT_FALSE(from_hex("a0b", out));     // short
  EXPECT_FALSE(from_hex("a0b1c2", out));  // long
  EXPECT_FALSE(from_hex("a0bz", out));    // not hex
}

TEST(OpenSslErrorTest, CarriesAndDrainsTheErrorQueue) {
  ERR_clear_error();
  EXPECT_EQ(d2i_X509(nullptr, nullptr, 0), nullptr);  // leaves an entry on the queue
  const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01};
  const unsigned char* p = junk;
  EXPECT_EQ(d2i_X509(nullptr, &p, sizeof junk), nullptr);
  const OpenSslError err("parsing");
  EXPECT_NE(std::string(err.what()).find("parsing: "), std::string::npos) << err.what();
  EXPECT_EQ(ERR_peek_error(), 0UL) << "queue must be drained";
  EXPECT_THROW(check(0, "ctx"), OpenSslError);
  EXPECT_NO_THROW(check(1, "ctx"));
}

TEST(Certificates, PemAndDerRoundTrip) {
  EvpPkeyPtr key = generate_key(KeyType::ec_p256);
  X509Ptr cert = sample_cert(key.get());
  const std::string pem = cert_to_pem(cert.get());
  EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE-----", 0), 0U);
  X509Ptr from_pem = cert_from_pem(pem);
  EXPECT_EQ(X509_cmp(from_pem.get(), cert.get()), 0);
  const Bytes der = cert_to_der(cert.get());
  X509Ptr from_der = cert_from_der(der);
  EXPECT_EQ(X509_cmp(from_der.get(), cert.get()), 0);

  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_THROW(cert_from_der(trailing), std::invalid_argument);
  EXPECT_THROW(cert_from_pem("not a certificate"), OpenSslError);
  EXPECT_THROW(cert_from_der(Bytes{1, 2, 3}), OpenSslError);
}

TEST(Certificates, ChainFileKeepsOrder) {
  EvpPkeyPtr key = generate_key(KeyType::ec_p256);
  X509Ptr a = sample_cert(key.get());
  X509Ptr b = sample_cert(key.get());
  const auto chain = certs_from_pem(cert_to_pem(a.get()) + cert_to_pem(b.get()));
  ASSERT_EQ(chain.size(), 2U);
  EXPECT_EQ(X509_cmp(chain[0].get(), a.get()), 0);
  EXPECT_EQ(X509_cmp(chain[1].get(), b.get()), 0);
  EXPECT_EQ(ERR_peek_error(), 0UL);
  EXPECT_THROW(certs_from_pem(""), OpenSslError);
  EXPECT_THROW(certs_from_pem("garbage"), OpenSslError);
}

TEST(Certificates, Facts) {
  EvpPkeyPtr key = generate_key(KeyType::ec_p256);
  X509Ptr cert = sample_cert(key.get());

  const Bytes serial = serial_bytes(cert.get());
  EXPECT_EQ(serial.size(), 16U);
  EXPECT_EQ(serial_hex(cert.get()), to_hex(serial));

  unsigned char md[32];
  unsigned len = 0;
  ASSERT_EQ(X509_digest(cert.get(), EVP_sha256(), md, &len), 1);
  EXPECT_EQ(sha256_fingerprint_hex(cert.get()), to_hex(std::span<const std::uint8_t>(md, len)));
  EXPECT_EQ(sha256_fingerprint_hex(cert.get()).size(), 64U);

  // RFC 2253: most significant RDN first, ',' escaped.
  EXPECT_EQ(subject_string(cert.get()), "O=Acme\\, Inc.,CN=example device");
  EXPECT_EQ(name_to_string(X509_get_issuer_name(cert.get())), subject_string(cert.get()));

  EXPECT_EQ(subject_alt_names(cert.get()),
            (std::vector<std::string>{"DNS:host.example.com", "URI:IntuneDeviceId://abc-123", "IP:192.0.2.7",
                                      "IP:2001:db8::1", "email:user@example.com"}));
  EXPECT_EQ(not_before_unix(cert.get()), 1700000000);
  EXPECT_EQ(not_after_unix(cert.get()), 1800000000);
}

TEST(Certificates, NoSanGivesEmptyList) {
  EvpPkeyPtr key = generate_key(KeyType::ec_p256);
  X509NamePtr name = make_name({{"CN", "x"}});
  X509Ptr cert = new_certificate(random_serial(), name.get(), name.get(), key.get(), 0, 1);
  EXPECT_TRUE(subject_alt_names(cert.get()).empty());
}

TEST(Time, Asn1TimeToUnixCoversUtcAndGeneralizedTime) {
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{951782400} /* 2000-02-29 */, std::int64_t{2524608000} /* 2050 */,
                         std::int64_t{4102444799} /* 2099-12-31 23:59:59 */}) {
    Asn1TimePtr at(ASN1_TIME_set(nullptr, static_cast<time_t>(t)));
    ASSERT_TRUE(at);
    EXPECT_EQ(asn1_time_to_unix(at.get()), t);
  }
  Asn1TimePtr gen(ASN1_TIME_set(nullptr, 2524608000));
  EXPECT_EQ(ASN1_STRING_type(gen.get()), V_ASN1_GENERALIZEDTIME);  // RFC 5280 §4.1.2.5
}

TEST(Csr, ParsesPemAndDerAndRejectsGarbage) {
  EvpPkeyPtr key = generate_key(KeyType::ec_p256);
  X509ReqPtr req = testing::make_csr(key.get(), {});
  const std::string pem = csr_to_pem(req.get());
  EXPECT_NE(pem.find("BEGIN CERTIFICATE REQUEST"), std::string::npos);
  X509ReqPtr a = csr_from_pem_or_der(pem);
  EXPECT_EQ(name_to_string(X509_REQ_get_subject_name(a.get())), "CN=device-1");
  X509ReqPtr b = csr_from_pem_or_der(testing::csr_der(req.get()));
  EXPECT_EQ(X509_REQ_verify(b.get(), X509_REQ_get0_pubkey(b.get())), 1);

  EXPECT_THROW(csr_from_pem_or_der(""), std::invalid_argument);
  EXPECT_THROW(csr_from_pem_or_der("\x30\x82\x01\x00garbage"), std::invalid_argument);
  EXPECT_THROW(csr_from_pem_or_der("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
               std::invalid_argument);
  EXPECT_THROW(csr_from_pem_or_der(testing::csr_der(req.get()) + "x"), std::invalid_argument);
  EXPECT_EQ(ERR_peek_error(), 0UL);
}

// The SCEP path parses a CSR without its key and takes the key through csr_public_key.
TEST(Csr, WithoutKeyThenCsrPublicKeyGivesTheSameKey) {
  for (KeyType type : {KeyType::rsa2048, KeyType::ec_p256, KeyType::ec_p384}) {
    EvpPkeyPtr key = generate_key(type);
    X509ReqPtr req = testing::make_csr(key.get(), {});
    const std::string der = testing::csr_der(req.get());
    const auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(der.data()), der.size());

    X509ReqPtr keyless = csr_from_der_without_key(bytes);
    ASSERT_TRUE(keyless) << to_string(type);
    EXPECT_EQ(name_to_string(X509_REQ_get_subject_name(keyless.get())), "CN=device-1");
    EXPECT_EQ(X509_REQ_get0_pubkey(keyless.get()), nullptr) << "the key was not decoded";
    ERR_clear_error();

    EvpPkeyPtr taken = csr_public_key(keyless.get());
    ASSERT_TRUE(taken) << to_string(type);
    EXPECT_EQ(EVP_PKEY_eq(taken.get(), key.get()), 1) << to_string(type);
    EXPECT_EQ(X509_REQ_verify_ex(keyless.get(), taken.get(), nullptr, nullptr), 1) << to_string(type);
    // A fully parsed CSR gives the same key.
    X509ReqPtr full = csr_from_pem_or_der(der);
    EvpPkeyPtr again = csr_public_key(full.get());
    EXPECT_EQ(EVP_PKEY_eq(again.get(), key.get()), 1);

    // The signature still protects the key: another key's signature does not verify.
    EvpPkeyPtr other = generate_key(type);
    EXPECT_NE(X509_REQ_verify_ex(keyless.get(), other.get(), nullptr, nullptr), 1);
    ERR_clear_error();
  }
  const std::string garbage = "\x30\x82\x01\x00garbage";
  EXPECT_FALSE(csr_from_der_without_key(std::span(reinterpret_cast<const std::uint8_t*>(garbage.data()), garbage.size())));
  EvpPkeyPtr key = generate_key(KeyType::ec_p256);
  const std::string trailing = testing::csr_der(testing::make_csr(key.get(), {}).get()) + "x";
  EXPECT_FALSE(csr_from_der_without_key(std::span(reinterpret_cast<const std::uint8_t*>(trailing.data()), trailing.size())));
  EXPECT_EQ(ERR_peek_error(), 0UL);
}

TEST(Keys, PemRoundTripIsPkcs8) {
  for (KeyType type : {KeyType::ec_p256, KeyType::rsa2048}) {
    EvpPkeyPtr key = generate_key(type);
    const std::string pem = key_to_pem(key.get());
    EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0U);
    EvpPkeyPtr back = key_from_pem(pem);
    EXPECT_EQ(EVP_PKEY_eq(key.get(), back.get()), 1);
  }
  EXPECT_THROW(key_from_pem("nope"), OpenSslError);
}

TEST(Files, WriteIsAtomicWithExactMode) {
  TempDir dir;
  const std::string key = dir.path() + "/secret.key";
  const std::string pub = dir.path() + "/public.pem";
  const mode_t old = ::umask(0077);  // the writer must not depend on the umask
  write_file(key, "secret", 0600);
  write_file(pub, "public");
  ::umask(old);
  EXPECT_EQ(testing::file_mode(key), 0600U);
  EXPECT_EQ(testing::file_mode(pub), 0644U);
  EXPECT_EQ(read_file(key), "secret");

  write_file(key, std::string("new\0data", 8), 0600);  // replaces, binary-safe
  EXPECT_EQ(read_file(key), std::string("new\0data", 8));
  EXPECT_EQ(testing::file_mode(key), 0600U);

  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 2U) << "no temporary files may be left behind";
}

TEST(Files, ErrorsNameThePath) {
  TempDir dir;
  try {
    read_file(dir.path() + "/missing.pem");
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos);
  }
  EXPECT_THROW(write_file(dir.path() + "/no/such/dir/file", "x"), std::runtime_error);
}

}  // namespace
}  // namespace portcullis::ca
