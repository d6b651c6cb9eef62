// The end of one Access-Request's handling, told to whoever counts decisions (the metrics
// in app/). Called on the io thread that decided, after the reply is built: an observer
// must be cheap and must not block (atomics, no I/O).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace portcullis::radius {

enum class DecisionOutcome : std::uint8_t { accept, reject };
inline const char* to_string(DecisionOutcome outcome) { return outcome == DecisionOutcome::accept ? "accept" : "reject"; }

struct DecisionSeen {
  std::string_view nas;        // the NAS client entry's name
  DecisionOutcome outcome = DecisionOutcome::reject;
  // The event reason code (docs/events.md), never free text, so that it can label a
  // metric: "ok" for an accept; for a reject the code that says why ("revoked",
  // "eap_method", "policy:<rule>", "session_table_full", …).
  std::string_view reason;
  // From the conversation's first Access-Request to this answer; empty when no EAP
  // conversation ran (no EAP-Message, unknown State, a conversation refused at admission).
  std::optional<std::chrono::nanoseconds> handshake;
};

class DecisionObserver {
 public:
  virtual ~DecisionObserver() = default;
  virtual void decided(const DecisionSeen& decision) noexcept = 0;
};

}  // namespace portcullis::radius
