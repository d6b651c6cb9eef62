// An EventSink that keeps what it is told, for tests that assert the decision events.
#pragma once

#include "ca/event.hpp"

#include <mutex>
#include <utility>
#include <vector>

namespace portcullis::testing {

class RecordingSink : public ca::EventSink {
 public:
  void emit(ca::Event event) noexcept override {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  // What was told so far, oldest first; take() also forgets it.
  std::vector<ca::Event> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<ca::Event> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(events_, {});
  }

 private:
  std::mutex mutex_;
  std::vector<ca::Event> events_;
};

}  // namespace portcullis::testing
