// run_resilient and WorkerPool: a handler that throws is logged and counted, and the
// threads go on serving the handlers queued after it.
#include "app/io_runner.hpp"

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace app = portcullis::app;
namespace asio = boost::asio;

namespace {

TEST(IoRunner, AThrowingHandlerIsCountedAndTheNextOnesStillRun) {
  asio::io_context io;
  std::atomic<std::uint64_t> escaped{0};
  int ran = 0;
  asio::post(io, [] { throw std::runtime_error("handler bug"); });
  asio::post(io, [&] { ++ran; });
  asio::post(io, [] { throw 42; });  // not a std::exception
  asio::post(io, [&] { ++ran; });
  app::run_resilient(io, escaped, "test io");  // returns once the queue is empty
  EXPECT_EQ(ran, 2);
  EXPECT_EQ(escaped.load(), 2u);
}

TEST(IoRunner, IoThreadsKeepServingAfterAThrowAndStopWhenAsked) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::atomic<std::uint64_t> escaped{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { app::run_resilient(io, escaped, "test io"); });
  for (int i = 0; i < 4; ++i) asio::post(io, [] { throw std::runtime_error("handler bug"); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (escaped.load() < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(escaped.load(), 4u);
  // Posted after every throw, two handlers that each wait for the other: they finish only
  // when both threads are still serving.
  std::atomic<int> arrived{0};
  std::atomic<int> met{0};
  for (int i = 0; i < 2; ++i) {
    asio::post(io, [&] {
      ++arrived;
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (arrived.load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
      if (arrived.load() == 2) ++met;
    });
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (met.load() < 2 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(met.load(), 2);
  EXPECT_FALSE(io.stopped());  // the throws did not stop the io_context
  io.stop();                   // and a real stop still ends every thread's loop
  for (auto& t : threads) t.join();
}

TEST(WorkerPool, AThrowingJobDoesNotEndTheProcessAndLaterJobsRun) {
  std::atomic<std::uint64_t> escaped{0};
  app::WorkerPool pool("test pool", 2, escaped);
  EXPECT_EQ(pool.size(), 2u);
  for (int i = 0; i < 3; ++i) asio::post(pool.executor(), [] { throw std::runtime_error("handler bug"); });
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) asio::post(pool.executor(), [&] { ++ran; });
  pool.join();  // the queued jobs finish first
  EXPECT_EQ(ran.load(), 10);
  EXPECT_EQ(escaped.load(), 3u);
}

}  // namespace
