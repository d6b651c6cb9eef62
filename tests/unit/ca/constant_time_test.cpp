// ca/constant_time.hpp: the one equality for secrets and MACs.
#include "ca/constant_time.hpp"

#include <gtest/gtest.h>

#include <array>

namespace portcullis::ca {
namespace {

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  const std::array<std::uint8_t, 3> a{1, 2, 3}, same{1, 2, 3}, last{1, 2, 4};
  const std::array<std::uint8_t, 2> shorter{1, 2};
  EXPECT_TRUE(constant_time_equal(a, same));
  EXPECT_FALSE(constant_time_equal(a, last));
  EXPECT_FALSE(constant_time_equal(a, shorter));  // a prefix is not equal
  EXPECT_TRUE(constant_time_equal(std::span<const std::uint8_t>(), std::span<const std::uint8_t>()));
  EXPECT_TRUE(constant_time_equal(std::string_view("secret"), std::string_view("secret")));
  EXPECT_FALSE(constant_time_equal(std::string_view("secret"), std::string_view("Secret")));
  EXPECT_FALSE(constant_time_equal(std::string_view("secret"), std::string_view("secret-longer")));
}

}  // namespace
}  // namespace portcullis::ca
