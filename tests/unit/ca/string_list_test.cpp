// The SAN lists stored as JSON arrays in the ledger: rows written before the codec moved to
// nlohmann-json read back unchanged, and what is written now is the same text.
#include "ca/ledger/string_list.hpp"

#include <gtest/gtest.h>

namespace portcullis::ca::detail {
namespace {

using namespace std::string_literals;

// What the ledger's earlier hand-written encoder stored for these lists: '"' and '\'
// escaped, every control character as \u00XX (lowercase), UTF-8 and DEL as they are.
TEST(StringList, ReadsRowsInTheEarlierEncoding) {
  EXPECT_EQ(decode_string_list("[]"), std::vector<std::string>{});
  EXPECT_EQ(decode_string_list(R"(["DNS:tablet.example","URI:urn:x:\"quoted\"\\back"])"),
            (std::vector<std::string>{"DNS:tablet.example", "URI:urn:x:\"quoted\"\\back"}));
  EXPECT_EQ(decode_string_list("[\"email:\xc3\xbc@example.org\",\"odd\\u000aline\",\"\\u001f\\u0000\x7f\"]"),
            (std::vector<std::string>{"email:\xc3\xbc@example.org", "odd\nline", "\x1f\0\x7f"s}));
  EXPECT_EQ(decode_string_list(R"([""])"), std::vector<std::string>{""});
}

TEST(StringList, WritesTheSameTextForEverythingTheLedgerHolds) {
  EXPECT_EQ(encode_string_list({}), "[]");
  EXPECT_EQ(encode_string_list({"DNS:tablet.example", "URI:urn:x:\"quoted\"\\back", "email:\xc3\xbc@example.org"}),
            R"(["DNS:tablet.example","URI:urn:x:\"quoted\"\\back","email:)" "\xc3\xbc" R"(@example.org"])");
  EXPECT_EQ(encode_string_list({"ip:192.0.2.1", "\x7f"}), "[\"ip:192.0.2.1\",\"\x7f\"]");
}

TEST(StringList, RoundTripsControlCharactersAndUnicode) {
  const std::vector<std::string> items{"odd\nline", "tab\there", "nul\0!"s, "\x01", "\xf0\x9f\x94\x91", ""};
  EXPECT_EQ(decode_string_list(encode_string_list(items)), items);
}

TEST(StringList, ReadsAnyValidJsonArrayOfStrings) {
  EXPECT_EQ(decode_string_list(" [ \"a\" ,\n\"b\" ] "), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(decode_string_list(R"(["\ud83d\udd11","\/"])"), (std::vector<std::string>{"\xf0\x9f\x94\x91", "/"}));
}

TEST(StringList, RefusesAnythingElse) {
  for (const char* bad : {"", "{}", "\"a\"", "[1]", "[\"a\",null]", "[\"a\"", "[\"a\"] x", "[\"a\",]",
                          "[\"\\ud800\"]", "[\"\\udc00\"]", "[\"a\nb\"]", "[\"\\x\"]"}) {
    EXPECT_THROW(decode_string_list(bad), std::invalid_argument) << bad;
  }
}

TEST(StringList, RefusesToWriteBytesThatAreNotUtf8) {
  EXPECT_THROW(encode_string_list({"caf\xe9"}), std::invalid_argument);
}

}  // namespace
}  // namespace portcullis::ca::detail
