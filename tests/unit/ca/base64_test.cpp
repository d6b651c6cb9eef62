// ca/base64: the one base64 codec (OCSP GET, SCEP GET messages, MDM profiles, secrets).
#include "ca/base64.hpp"

#include <gtest/gtest.h>

namespace portcullis::ca {
namespace {

std::span<const std::uint8_t> octets(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

TEST(Base64, EncodesBothAlphabets) {
  EXPECT_EQ(base64_encode(octets("")), "");
  EXPECT_EQ(base64_encode(octets("hi")), "aGk=");
  EXPECT_EQ(base64_encode(octets("hello")), "aGVsbG8=");
  EXPECT_EQ(base64_encode(octets("\xfb\xff\xbf")), "+/+/");
  EXPECT_EQ(base64url_encode(octets("\xfb\xff\xbf")), "-_-_");
  EXPECT_EQ(base64url_encode(octets("hi")), "aGk");  // RFC 4648 §5 without padding
}

TEST(Base64, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(base64_decode("aGVsbG8=").value(), "hello");
  EXPECT_EQ(base64_decode("aGVsbG8").value(), "hello");
  EXPECT_EQ(base64_decode("aGk=").value(), "hi");
  EXPECT_EQ(base64_decode("aGk").value(), "hi");
  EXPECT_EQ(base64_decode("aA==").value(), "h");
  EXPECT_EQ(base64_decode("aA").value(), "h");
  EXPECT_EQ(base64_decode("").value(), "");
  EXPECT_EQ(base64_decode("+/8=").value(), "\xfb\xff");
}

TEST(Base64, RefusesMalformedPaddingAndLengths) {
  EXPECT_FALSE(base64_decode("a"));         // one character cannot hold an octet
  EXPECT_FALSE(base64_decode("aGVsb"));     // 5 = 4 + 1
  EXPECT_FALSE(base64_decode("aGk=="));     // padding past the quantum
  EXPECT_FALSE(base64_decode("aA="));       // padding short of the quantum
  EXPECT_FALSE(base64_decode("aGk==="));
  EXPECT_FALSE(base64_decode("="));
  EXPECT_FALSE(base64_decode("aG=k"));      // padding inside
  EXPECT_FALSE(base64_decode("aGk=aGk="));  // two concatenated encodings
}

TEST(Base64, RefusesNonCanonicalTrailingBits) {
  EXPECT_FALSE(base64_decode("aGl="));  // "hi" with a low bit set after the last octet
  EXPECT_FALSE(base64_decode("aB=="));
  EXPECT_FALSE(base64_decode("aB"));
}

TEST(Base64, RefusesWhitespaceAndForeignCharacters) {
  // OpenSSL's EVP_DecodeBlock itself skips leading and trailing blanks; ours does not.
  EXPECT_FALSE(base64_decode("aG k"));
  EXPECT_FALSE(base64_decode(" aGk="));
  EXPECT_FALSE(base64_decode("aGk=\n"));
  EXPECT_FALSE(base64_decode("aGk\n"));
  EXPECT_FALSE(base64_decode("a*b="));
  EXPECT_FALSE(base64_decode(std::string_view("aG\0k", 4)));
}

TEST(Base64, KeepsToTheAlphabetAsked) {
  const std::string expected("\xfb\xff\xbf", 3);
  EXPECT_FALSE(base64_decode("-_8"));  // RFC 6960 A.1 uses §4, not §5
  EXPECT_FALSE(base64_decode("-_-_", Base64Alphabet::standard));
  EXPECT_FALSE(base64_decode("+/+/", Base64Alphabet::url_safe));
  EXPECT_EQ(base64_decode("-_-_", Base64Alphabet::url_safe).value(), expected);
  EXPECT_EQ(base64_decode("+/+/", Base64Alphabet::either).value(), expected);
  EXPECT_EQ(base64_decode("-_-_", Base64Alphabet::either).value(), expected);
  EXPECT_EQ(base64_decode("+_-/", Base64Alphabet::either).value(), expected);
}

TEST(Base64, LenientAcceptsExtraPaddingAndLooseTrailingBits) {
  const auto lenient = [](std::string_view text) {
    return base64_decode(text, Base64Alphabet::either, Base64Strictness::lenient);
  };
  EXPECT_EQ(lenient("aGk==").value(), "hi");
  EXPECT_EQ(lenient("aGk====").value(), "hi");
  EXPECT_EQ(lenient("aGl").value(), "hi");
  EXPECT_EQ(lenient("aGl=").value(), "hi");
  EXPECT_EQ(lenient("AAA==").value(), std::string(2, '\0'));
  EXPECT_EQ(lenient("-_8").value(), "\xfb\xff");
  EXPECT_FALSE(lenient("a").has_value());
  EXPECT_FALSE(lenient("a===").has_value());
  EXPECT_FALSE(lenient("aG k").has_value());
  EXPECT_FALSE(lenient("aG=k").has_value());
  EXPECT_FALSE(base64_decode("aGk==", Base64Alphabet::either).has_value());   // canonical is the default
}

TEST(Base64, RoundTripsEveryLengthAndOctet) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 7) {
    const std::string_view in(all.data(), n);
    EXPECT_EQ(base64_decode(base64_encode(octets(in))).value(), in);
    EXPECT_EQ(base64_decode(base64url_encode(octets(in)), Base64Alphabet::url_safe).value(), in);
  }
}

}  // namespace
}  // namespace portcullis::ca
