#include "app/node_heartbeat.hpp"

#include "ca/hex.hpp"
#include "ca/x509.hpp"

#include <spdlog/spdlog.h>

namespace portcullis::app {

NodeHeartbeat::NodeHeartbeat(ca::NodeStore& store, ca::NodeBeat self, std::function<ca::NodeHealth()> health)
    : store_(store), self_(std::move(self)), health_(std::move(health)) {
  self_.instance = ca::to_hex(ca::random_bytes(16));
  thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
}

NodeHeartbeat::~NodeHeartbeat() {
  thread_.request_stop();
  wake_.notify_all();
  thread_.join();
  if (!failing_) beat(true);
}

void NodeHeartbeat::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    beat(false);
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, stop, std::chrono::seconds(self_.interval_seconds), [] { return false; });
  }
}

void NodeHeartbeat::beat(bool stopping) {
  try {
    ca::NodeBeat b = self_;
    if (stopping) {
      b.status = "stopped";
    } else {
      ca::NodeHealth health = health_();
      b.status = std::move(health.status);
      b.reason = std::move(health.reason);
    }
    const std::optional<ca::NodeRow> before = store_.record_node(b);
    if (failing_) spdlog::info("node {}: its heartbeat reaches the ledger again", self_.name);
    failing_ = false;
    // Our row written since our last beat by another process: two running nodes share a
    // name, and every console would show them as one. (A row left by an earlier process
    // of this node, a restart, is met at the first beat only.)
    if (wrote_ && before && before->instance != self_.instance && before->instance != other_instance_logged_) {
      spdlog::error("node {}: another running process beats under this name too (instance {}); give each node its "
                    "own [service] node_name",
                    self_.name, before->instance);
      other_instance_logged_ = before->instance;
    }
    wrote_ = true;
  } catch (const std::exception& e) {
    if (!failing_) spdlog::warn("node {}: heartbeat not written to the ledger, retried every {} s: {}", self_.name,
                                self_.interval_seconds, e.what());
    failing_ = true;
  }
}

}  // namespace portcullis::app
