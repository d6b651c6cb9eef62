#include "app/io_runner.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace portcullis::app {

namespace {

// true when run() returned normally; false after an escaped exception (logged, counted).
bool run_once(boost::asio::io_context& io, std::atomic<std::uint64_t>& escaped, const std::string& where) {
  try {
    io.run();
    return true;
  } catch (const std::exception& e) {
    escaped.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{}: a handler threw, the thread keeps serving: {}", where, e.what());
  } catch (...) {
    escaped.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{}: a handler threw a non-standard exception, the thread keeps serving", where);
  }
  return false;
}

}  // namespace

void run_resilient(boost::asio::io_context& io, std::atomic<std::uint64_t>& escaped, const std::string& where) {
  while (!run_once(io, escaped, where)) {
  }
}

WorkerPool::WorkerPool(std::string name, unsigned threads, std::atomic<std::uint64_t>& escaped)
    : name_(std::move(name)), io_(static_cast<int>(threads)), guard_(io_.get_executor()) {
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i)
    threads_.emplace_back([this, &escaped] { run_resilient(io_, escaped, name_ + " worker"); });
}

WorkerPool::~WorkerPool() { join(); }

void WorkerPool::join() {
  guard_.reset();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace portcullis::app
