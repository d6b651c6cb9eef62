// The notification queue the MDM sources share (app/mdm/delivery_queue.hpp): in order,
// retried with a doubling back-off, bounded, and a stop that does not wait out a back-off.
#include "app/mdm/delivery_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace portcullis::app {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool eventually(const std::function<bool()>& check) {
  for (const auto end = Clock::now() + 5s; Clock::now() < end; std::this_thread::sleep_for(5ms))
    if (check()) return true;
  return check();
}

TEST(DeliveryQueue, DeliversInOrderAndRetriesWithADoublingBackoff) {
  std::mutex mutex;
  std::vector<std::pair<int, int>> tries;   // (item, attempt)
  std::vector<Clock::time_point> when;
  DeliveryQueue<int> queue({"test", 10, 3, 20ms}, [&](const int& item, int n) {
    std::lock_guard lock(mutex);
    tries.emplace_back(item, n);
    when.push_back(Clock::now());
    return item != 2 || n == 3;   // item 2 fails twice
  });
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(queue.push(i));
  ASSERT_TRUE(eventually([&] { return queue.delivered() == 3; }));
  std::lock_guard lock(mutex);
  EXPECT_EQ(tries, (std::vector<std::pair<int, int>>{{1, 1}, {2, 1}, {2, 2}, {2, 3}, {3, 1}}));
  EXPECT_GE(when[2] - when[1], 20ms);
  EXPECT_GE(when[3] - when[2], 40ms);
  EXPECT_EQ(queue.dropped(), 0u);
}

TEST(DeliveryQueue, GivesUpAfterItsAttemptsAndDropsWhatDoesNotFit) {
  std::atomic<int> calls{0};
  std::atomic<bool> started{false}, hold{true};
  DeliveryQueue<int> queue({"test", 2, 2, 1ms}, [&](const int&, int) {
    started = true;
    while (hold) std::this_thread::sleep_for(1ms);   // the first item holds the thread
    ++calls;
    return false;
  });
  EXPECT_TRUE(queue.push(1));
  ASSERT_TRUE(eventually([&] { return started.load(); }));   // 1 is off the queue, being tried
  EXPECT_TRUE(queue.push(2));
  EXPECT_TRUE(queue.push(3));
  EXPECT_FALSE(queue.push(4));   // 2 and 3 wait: full
  hold = false;
  ASSERT_TRUE(eventually([&] { return queue.dropped() == 4; }));   // 4, then 1, 2, 3 after two attempts each
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(queue.delivered(), 0u);
}

TEST(DeliveryQueue, AStopCutsABackoffShortAndSaysWhatWasLeft) {
  std::atomic<int> calls{0};
  DeliveryQueue<int> queue({"test", 10, 5, 60s}, [&](const int&, int) {
    ++calls;
    return false;
  });
  queue.push(1);
  queue.push(2);
  ASSERT_TRUE(eventually([&] { return calls == 1; }));   // 1 failed once; now in a 60 s back-off
  const auto start = Clock::now();
  EXPECT_EQ(queue.stop(), 2u);   // 1, cut short, and 2, never tried
  EXPECT_EQ(queue.dropped(), 0u);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(queue.stop(), 0u);
  EXPECT_FALSE(queue.push(3));
}

}  // namespace
}  // namespace portcullis::app
