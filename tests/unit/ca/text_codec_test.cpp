// Percent-decoding, paths and query strings (ca/text_codec), as the admin API and SCEP read them.
#include "ca/text_codec.hpp"

#include <gtest/gtest.h>

namespace portcullis::ca {
namespace {

TEST(TextCodec, PercentDecodingPathsAndQueries) {
  EXPECT_EQ(percent_decode("a%20b%2Fc+d").value(), "a b/c+d");
  EXPECT_EQ(percent_decode("a+b", true).value(), "a b");
  EXPECT_FALSE(percent_decode("bad%2").has_value());
  EXPECT_FALSE(percent_decode("bad%zz").has_value());
  EXPECT_EQ(split_path("/api//v1/x%2Fy/").value(), (std::vector<std::string>{"api", "v1", "x/y"}));
  auto query = parse_query("a=1&b=two+words&c=%26&flag&a=2").value();
  EXPECT_EQ(query["a"], "2");
  EXPECT_EQ(query["b"], "two words");
  EXPECT_EQ(query["c"], "&");
  EXPECT_EQ(query["flag"], "");
  EXPECT_FALSE(parse_query("x=%G0").has_value());
}

TEST(TextCodec, SplitQueryKeepsOrderAndLeavesValuesEncoded) {
  using Pairs = std::vector<std::pair<std::string_view, std::string_view>>;
  EXPECT_EQ(split_query("operation=PKIOperation&message=a+b%2F&flag&&x=1&x=2"),
            (Pairs{{"operation", "PKIOperation"}, {"message", "a+b%2F"}, {"flag", ""}, {"x", "1"}, {"x", "2"}}));
  EXPECT_EQ(split_query("=v&k="), (Pairs{{"", "v"}, {"k", ""}}));
  EXPECT_TRUE(split_query("").empty());
  EXPECT_TRUE(split_query("&&").empty());
}

}  // namespace
}  // namespace portcullis::ca
