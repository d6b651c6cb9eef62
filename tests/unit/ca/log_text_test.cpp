// Peer text in log lines: printable ASCII only, so it cannot forge a line.
#include "ca/log_text.hpp"

#include <gtest/gtest.h>

namespace portcullis::ca {
namespace {

TEST(LogSafe, KeepsPrintableAsciiAsIs) {
  const std::string all = [] {
    std::string s;
    for (int c = 0x20; c <= 0x7E; ++c) s.push_back(static_cast<char>(c));
    return s;
  }();
  EXPECT_EQ(log_safe(all), all);
  EXPECT_EQ(log_safe(""), "");
}

TEST(LogSafe, ReplacesControlsNulDelAndHighBytesOneForOne) {
  using namespace std::string_literals;
  // A CSR subject trying to end the line and forge the next one.
  EXPECT_EQ(log_safe("cn=a\r\nscep: issued certificate 01 for device admin"s),
            "cn=a??scep: issued certificate 01 for device admin");
  EXPECT_EQ(log_safe("a\0b"s), "a?b");
  EXPECT_EQ(log_safe("\x1b[2J\x7f"s), "?[2J?");
  EXPECT_EQ(log_safe("caf\xc3\xa9"s), "caf??");   // UTF-8 is not ASCII: two bytes, two '?'
  EXPECT_EQ(log_safe("\t"s), "?");
}

TEST(LogSafe, TakesWireOctetsAndMarksEmptyFields) {
  const std::uint8_t identity[] = {'a', 0x0D, 0x0A, 0xFF, 'b'};
  EXPECT_EQ(log_safe(std::span<const std::uint8_t>(identity)), "a???b");
  EXPECT_EQ(log_field(""), "-");
  EXPECT_EQ(log_field("s\n1"), "s?1");
  EXPECT_EQ(log_field("-"), "-");
}

TEST(HasControlCharacters, FindsC0AndDelOnly) {
  using namespace std::string_literals;
  EXPECT_FALSE(has_control_characters(""));
  EXPECT_FALSE(has_control_characters("device 7 (caf\xc3\xa9)"));
  EXPECT_TRUE(has_control_characters("a\tb"));
  EXPECT_TRUE(has_control_characters("a\0b"s));
  EXPECT_TRUE(has_control_characters("a\x7f"));
  EXPECT_TRUE(has_control_characters("\x1f"));
  EXPECT_FALSE(has_control_characters("\x20~"));
}

}  // namespace
}  // namespace portcullis::ca
