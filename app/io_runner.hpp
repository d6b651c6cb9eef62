// Running an io_context on a thread without letting one handler's exception end the
// process. Boost.Asio lets an exception thrown by a completion handler escape run() on the
// thread that ran it: on a worker std::thread (or an asio::thread_pool thread) that is
// std::terminate, on the main thread it unwinds out of `serve`. Either way one faulty
// request would end every connection and every RADIUS exchange in flight.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace portcullis::app {

// Runs `io` on the calling thread until run() returns normally (no work left, or stop()).
// An exception escaping a handler is logged with `where`, counted in `escaped`, and run()
// is entered again: the io_context is not stopped and its other handlers keep running
// (Asio allows re-entering run() after an exception without restart()).
void run_resilient(boost::asio::io_context& io, std::atomic<std::uint64_t>& escaped, const std::string& where);

// A fixed set of threads running an io_context of its own, for work that may block
// (HTTP handlers: SQLite syncs, signing). Like asio::thread_pool, but an exception in a
// job is logged and counted instead of terminating the process.
class WorkerPool {
 public:
  WorkerPool(std::string name, unsigned threads, std::atomic<std::uint64_t>& escaped);
  ~WorkerPool();  // join()s
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  unsigned size() const { return static_cast<unsigned>(threads_.size()); }
  // Lets the queued jobs finish, then joins the threads. Safe to call more than once.
  void join();

 private:
  std::string name_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

}  // namespace portcullis::app
