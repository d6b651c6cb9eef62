// EAP-TLS framing and fragmentation (RFC 5216 §2.1.5 and §3.1, unchanged by RFC 9190):
//
//   Type-Data = Flags(1) | [TLS Message Length(4), when L] | TLS data
//   L = 0x80 length included, M = 0x40 more fragments, S = 0x20 start.
//
// One TlsFragments object per conversation, server side, hostapd style: an explicit state
// enum (MSG, FRAG_ACK, WAIT_FRAG_ACK) and every state change logged as
// "EAP-TLS: WAIT_FRAG_ACK -> MSG". Incoming reassembly is capped (64 KiB by default) and
// checked against the announced TLS Message Length before anything is allocated, so a
// peer that announces a megabyte or lies about its fragments costs a failure, not memory.
#pragma once

#include "radius/eap/eap_packet.hpp"
#include "radius/eap/log_sink.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace portcullis::radius::eap {

inline constexpr std::uint8_t kTlsFlagLength = 0x80;  // L
inline constexpr std::uint8_t kTlsFlagMore = 0x40;    // M
inline constexpr std::uint8_t kTlsFlagStart = 0x20;   // S
inline constexpr std::size_t kDefaultMaxTlsMessage = 64 * 1024;
// Octets an EAP-TLS packet adds around its TLS data at most: EAP header (4), Type (1),
// Flags (1), TLS Message Length (4).
inline constexpr std::size_t kEapTlsOverhead = kTypeHeaderSize + 1 + 4;

// One EAP-TLS Type-Data, parsed. `data` views into the parsed buffer.
struct TlsFrame {
  std::uint8_t flags = 0;
  std::optional<std::uint32_t> message_length;  // present iff L
  std::span<const std::uint8_t> data;

  bool more() const { return (flags & kTlsFlagMore) != 0; }
  bool start() const { return (flags & kTlsFlagStart) != 0; }
  // RFC 5216 §2.1.5: an ACK is an EAP-TLS packet with no data. Flags are 0; an L flag
  // announcing zero octets says the same thing and is accepted too.
  bool is_ack() const { return !more() && !start() && data.empty() && message_length.value_or(0) == 0; }
};

struct TlsFrameParse {
  std::optional<TlsFrame> frame;
  std::string error;
};

// Reserved flag bits are ignored on receipt (RFC 5216 §3.1).
TlsFrameParse parse_tls_frame(std::span<const std::uint8_t> type_data);
Bytes build_tls_frame(std::uint8_t flags, std::optional<std::uint32_t> message_length,
                      std::span<const std::uint8_t> data);
inline Bytes tls_start_frame() { return {kTlsFlagStart}; }  // RFC 5216 §2.1.1
inline Bytes tls_ack_frame() { return {0x00}; }             // RFC 5216 §2.1.5

class TlsFragments {
 public:
  enum class State {
    msg,            // no fragmented message in flight either way
    frag_ack,       // reassembling a peer message: each of our Requests is an ACK
    wait_frag_ack,  // we sent a fragment with M and wait for the peer's ACK
  };

  struct Event {
    enum class Kind {
      message,   // a whole peer TLS message is in `bytes`
      send,      // send an EAP-Request/EAP-TLS with Type-Data `bytes` (our ACK or next fragment)
      peer_ack,  // an empty response while nothing of ours was outstanding (RFC 5216 §2.1.2/§2.1.3,
                 // RFC 9190 §2.1.1: the peer's answer to our last message); the caller decides
      error,     // the conversation must fail; `error` says why
    };
    Kind kind = Kind::error;
    Bytes bytes;
    std::string error;
  };

  // `fragment_size` is the number of TLS octets per outgoing EAP-TLS packet (>= 1);
  // `max_message` caps one reassembled incoming TLS message.
  TlsFragments(std::size_t fragment_size, std::size_t max_message, LogSink log);

  // The Type-Data (Flags onwards) of one EAP-Response/EAP-TLS.
  Event on_response(std::span<const std::uint8_t> type_data);

  // Starts sending a whole TLS message (non-empty); returns the Type-Data of its first
  // (possibly only) fragment. Later fragments come from on_response() on each ACK.
  Bytes send(Bytes tls_message);

  State state() const { return state_; }
  std::size_t fragment_size() const { return fragment_size_; }
  // Heap bytes held for messages in flight either way (the reassembly buffer and the
  // message being sent), for the RADIUS server's memory budget.
  std::size_t buffered_bytes() const { return in_.capacity() + out_.capacity(); }

 private:
  Bytes next_fragment();
  Event fail(std::string why);
  void set_state(State next);

  std::size_t fragment_size_;
  std::size_t max_message_;
  LogSink log_;
  State state_ = State::msg;
  Bytes in_;                  // reassembly buffer
  std::size_t in_expected_ = 0;
  Bytes out_;                 // message being sent
  std::size_t out_pos_ = 0;
};

const char* to_string(TlsFragments::State state);

}  // namespace portcullis::radius::eap
