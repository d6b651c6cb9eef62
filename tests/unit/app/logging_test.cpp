// The json log format's message field: always a valid JSON string body.
#include "app/logging.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace portcullis::app {
namespace {

using namespace std::string_literals;

std::string parsed(const std::string& body) { return nlohmann::json::parse("\"" + body + "\"").get<std::string>(); }

TEST(JsonLogMessage, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json_string_body("plain text"), "plain text");
  EXPECT_EQ(json_string_body("say \"hi\" \\ bye"), R"(say \"hi\" \\ bye)");
  EXPECT_EQ(json_string_body("a\nb\rc\td"), R"(a\nb\rc\td)");
  EXPECT_EQ(json_string_body("\x01\x1f"), R"(\u0001\u001f)");
  EXPECT_EQ(json_string_body("nul\0"s), R"(nul\u0000)");
  EXPECT_EQ(json_string_body("caf\xc3\xa9 \x7f"), "caf\xc3\xa9 \x7f");  // UTF-8 and DEL as they are
  for (const std::string& text : {"x\"y\\z\n"s, "\x01\x02\x03"s, "\xf0\x9f\x94\x91"s})
    EXPECT_EQ(parsed(json_string_body(text)), text);
}

TEST(JsonLogMessage, StaysValidJsonForBytesThatAreNotUtf8) {
  const std::string body = json_string_body("device caf\xe9 \xff\xfe end");
  EXPECT_NO_THROW(parsed(body)) << body;
  EXPECT_EQ(parsed(body), "device caf\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd end");
}

}  // namespace
}  // namespace portcullis::app
