// This node's heartbeat in the ledger (ca/ledger/nodes.hpp): a row written at start, every
// `interval` after, and once more as "stopped" on a clean stop, so that every node sharing
// the ledger can show which nodes serve, which are degraded and why, and which went silent.
// Its own thread: a ledger that hangs delays the next beat, never RADIUS or the admin API.
#pragma once

#include "ca/ledger/nodes.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

namespace portcullis::app {

class NodeHeartbeat {
 public:
  // `self`'s status and reason are filled from `health` at each beat; `instance` is made here.
  NodeHeartbeat(ca::NodeStore& store, ca::NodeBeat self, std::function<ca::NodeHealth()> health);
  // Joins, then writes the "stopped" beat unless the last beat failed: a ledger that is
  // down would hold the shutdown for its timeouts, and the others see this node silent.
  ~NodeHeartbeat();
  NodeHeartbeat(const NodeHeartbeat&) = delete;
  NodeHeartbeat& operator=(const NodeHeartbeat&) = delete;

  const std::string& name() const { return self_.name; }
  const std::string& instance() const { return self_.instance; }

 private:
  void run(std::stop_token stop);
  // One beat; a ledger error is logged once per outage and retried at the next beat.
  // `stopping`: the last one, "stopped".
  void beat(bool stopping);

  ca::NodeStore& store_;
  ca::NodeBeat self_;
  std::function<ca::NodeHealth()> health_;
  bool failing_ = false;              // the thread's own, then the destructor's
  bool wrote_ = false;                // a beat of this process is in the ledger
  std::string other_instance_logged_; // the thread's own
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;               // last: started once the rest is set
};

}  // namespace portcullis::app
