#include "app/console/session_store.hpp"

#include "ca/x509.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace console = portcullis::app::console;
namespace ca = portcullis::ca;

namespace {

ca::Sha256 hash_of(const std::string& id) {
  return ca::sha256(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(id.data()), id.size()));
}

constexpr ca::UnixTime kT0 = 1'800'000'000;

TEST(ConsoleSessionStore, IssuesRandom256BitIdsAndCsrfTokens) {
  console::SessionStore store;
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto issued = store.create("api:ops", kT0);
    EXPECT_EQ(issued.id.size(), 43u);  // base64url of 32 bytes, unpadded
    EXPECT_EQ(issued.session.csrf.size(), 43u);
    EXPECT_NE(issued.id, issued.session.csrf);
    EXPECT_TRUE(seen.insert(issued.id).second);
    EXPECT_TRUE(seen.insert(issued.session.csrf).second);
  }
}

TEST(ConsoleSessionStore, FindsALiveSessionWithItsActorAndCsrf) {
  console::SessionStore store;
  auto issued = store.create("api:ops", kT0);
  auto found = store.find(issued.id, kT0 + 5);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->actor, "api:ops");
  EXPECT_EQ(found->csrf, issued.session.csrf);
  EXPECT_FALSE(store.find(issued.id + "x", kT0 + 5));
  EXPECT_FALSE(store.find("", kT0 + 5));
}

TEST(ConsoleSessionStore, KeepsOnlyTheHashOfTheId) {
  console::SessionStore store;
  auto issued = store.create("api:ops", kT0);
  const auto keys = store.keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], hash_of(issued.id));
  // The stored key cannot be presented as a cookie: looking it up by its own text fails.
  const std::string key_text(keys[0].begin(), keys[0].end());
  EXPECT_FALSE(store.find(key_text, kT0));
  EXPECT_FALSE(store.find(ca::to_hex(keys[0]), kT0));
}

TEST(ConsoleSessionStore, IdleSessionsExpireAndUseKeepsThemAlive) {
  console::SessionStore store(console::SessionLimits{.idle_seconds = 1800, .absolute_seconds = 43200});
  auto issued = store.create("api:ops", kT0);
  EXPECT_TRUE(store.find(issued.id, kT0 + 1799));         // used: idle time starts again
  EXPECT_TRUE(store.find(issued.id, kT0 + 1799 + 1799));
  EXPECT_FALSE(store.find(issued.id, kT0 + 1799 + 1799 + 1800));  // 30 min unused
  EXPECT_EQ(store.size(), 0u);                                     // and dropped
}

TEST(ConsoleSessionStore, SessionsEndAtTheAbsoluteLimitHoweverBusy) {
  console::SessionStore store(console::SessionLimits{.idle_seconds = 1800, .absolute_seconds = 43200});
  auto issued = store.create("api:ops", kT0);
  ca::UnixTime t = kT0;
  for (; t + 600 < kT0 + 43200; t += 600) ASSERT_TRUE(store.find(issued.id, t + 600)) << t - kT0;
  EXPECT_FALSE(store.find(issued.id, kT0 + 43200));
}

TEST(ConsoleSessionStore, RemoveSignsOut) {
  console::SessionStore store;
  auto a = store.create("api:ops", kT0);
  auto b = store.create("api:ci", kT0);
  store.remove(a.id);
  EXPECT_FALSE(store.find(a.id, kT0 + 1));
  EXPECT_TRUE(store.find(b.id, kT0 + 1));
}

TEST(ConsoleSessionStore, AtTheCapTheLeastRecentlyUsedSessionGoes) {
  console::SessionStore store(console::SessionLimits{.max_sessions = 2});
  auto a = store.create("api:a", kT0);
  auto b = store.create("api:b", kT0 + 1);
  ASSERT_TRUE(store.find(a.id, kT0 + 2));  // a is now the more recent
  auto c = store.create("api:c", kT0 + 3);
  EXPECT_EQ(store.size(), 2u);
  EXPECT_TRUE(store.find(a.id, kT0 + 4));
  EXPECT_FALSE(store.find(b.id, kT0 + 4));
  EXPECT_TRUE(store.find(c.id, kT0 + 4));
}

TEST(ConsoleSessionStore, CsrfTokenMustMatchExactly) {
  console::ConsoleSession session{"api:ops", "abcDEF123_-", kT0, kT0};
  EXPECT_TRUE(console::csrf_matches(session, "abcDEF123_-"));
  EXPECT_FALSE(console::csrf_matches(session, "abcDEF123_A"));
  EXPECT_FALSE(console::csrf_matches(session, "abcDEF123_"));
  EXPECT_FALSE(console::csrf_matches(session, "abcDEF123_--"));
  EXPECT_FALSE(console::csrf_matches(session, "ABCDEF123_-"));
  EXPECT_FALSE(console::csrf_matches(session, ""));
  console::ConsoleSession none{"api:ops", "", kT0, kT0};
  EXPECT_FALSE(console::csrf_matches(none, ""));
}

}  // namespace
