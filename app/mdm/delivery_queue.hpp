// Notifications to an MDM service (a webhook, Intune) that must not hold up the enrollment
// they report on: queued without blocking (a full queue drops and counts: refusals come as
// fast as anyone sends requests), delivered in order by one thread of their own, each tried
// up to `attempts` times with a back-off that doubles from `first_backoff`. A stop cuts a
// back-off short and leaves what is queued undelivered; the owner logs how many.
//
// The owner stops the queue first thing in its destructor: `attempt` runs on the queue's
// thread and reaches into the owner.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace portcullis::app {

template <class T>
class DeliveryQueue {
 public:
  struct Settings {
    std::string name;            // for the log: "intune", "webhook https://…"
    std::size_t capacity = 1000;
    int attempts = 3;
    std::chrono::milliseconds first_backoff{1000};
  };
  // Tries `item` once (`n` counts from 1; it logs its own failure); true when done with it.
  using Attempt = std::function<bool(const T& item, int n)>;

  DeliveryQueue(Settings settings, Attempt attempt)
      : settings_(std::move(settings)), attempt_(std::move(attempt)), thread_([this] { run(); }) {}
  ~DeliveryQueue() { stop(); }
  DeliveryQueue(const DeliveryQueue&) = delete;
  DeliveryQueue& operator=(const DeliveryQueue&) = delete;

  // False when the queue is full or stopped: the item is dropped and counted.
  bool push(T item) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || queue_.size() >= settings_.capacity) {
        if (dropped_++ % 1000 == 0)
          spdlog::warn("{}: notification queue full; dropped ({} so far)", settings_.name, dropped_);
        return false;
      }
      queue_.push_back(std::move(item));
    }
    wake_.notify_all();
    return true;
  }

  // Ends the thread (at once, or after the attempt under way); returns how many items were
  // left undelivered: those queued, and one whose back-off the stop cut short. Later calls
  // return 0.
  std::size_t stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return 0;
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    return queue_.size() + (abandoned_ ? 1 : 0);
  }

  std::uint64_t delivered() const {
    std::lock_guard lock(mutex_);
    return delivered_;
  }
  std::uint64_t dropped() const {   // queue full, or every attempt failed
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  void run() {
    for (;;) {
      T item;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      const Delivery outcome = deliver(item);
      std::lock_guard lock(mutex_);
      if (outcome == Delivery::stopped) {
        abandoned_ = true;
        return;
      }
      ++(outcome == Delivery::delivered ? delivered_ : dropped_);
    }
  }

  enum class Delivery { delivered, given_up, stopped };
  Delivery deliver(const T& item) {
    std::chrono::milliseconds backoff = settings_.first_backoff;
    for (int n = 1; n <= settings_.attempts; ++n) {
      if (attempt_(item, n)) return Delivery::delivered;
      if (n == settings_.attempts) break;
      if (!pause(backoff)) return Delivery::stopped;
      backoff *= 2;
    }
    spdlog::error("{}: notification dropped after {} attempt(s)", settings_.name, settings_.attempts);
    return Delivery::given_up;
  }

  bool pause(std::chrono::milliseconds d) {   // false when stopping
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, d, [this] { return stopping_; });
  }

  const Settings settings_;
  const Attempt attempt_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<T> queue_;                          // guarded by mutex_
  bool stopping_ = false;                        // guarded by mutex_
  bool abandoned_ = false;                       // guarded by mutex_: an item the stop cut short
  std::uint64_t delivered_ = 0, dropped_ = 0;    // guarded by mutex_
  std::thread thread_;                           // last: started once the rest is set
};

}  // namespace portcullis::app
