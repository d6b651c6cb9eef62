#include "radius/eap/tls_fragments.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace portcullis::radius::eap {

TlsFrameParse parse_tls_frame(std::span<const std::uint8_t> type_data) {
  TlsFrameParse r;
  if (type_data.empty()) {
    r.error = "EAP-TLS packet without Flags";
    return r;
  }
  TlsFrame f;
  f.flags = type_data[0];
  std::size_t offset = 1;
  if ((f.flags & kTlsFlagLength) != 0) {
    if (type_data.size() < 5) {
      r.error = "EAP-TLS L flag set but TLS Message Length truncated";
      return r;
    }
    f.message_length = (static_cast<std::uint32_t>(type_data[1]) << 24) |
                       (static_cast<std::uint32_t>(type_data[2]) << 16) |
                       (static_cast<std::uint32_t>(type_data[3]) << 8) | static_cast<std::uint32_t>(type_data[4]);
    offset = 5;
  }
  f.data = type_data.subspan(offset);
  r.frame = f;
  return r;
}

Bytes build_tls_frame(std::uint8_t flags, std::optional<std::uint32_t> message_length,
                      std::span<const std::uint8_t> data) {
  Bytes out;
  out.reserve(5 + data.size());
  if (message_length) flags |= kTlsFlagLength;
  out.push_back(flags);
  if (message_length) {
    const std::uint32_t n = *message_length;
    out.push_back(static_cast<std::uint8_t>(n >> 24));
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

TlsFragments::TlsFragments(std::size_t fragment_size, std::size_t max_message, LogSink log)
    : fragment_size_(fragment_size), max_message_(max_message), log_(std::move(log)) {
  if (fragment_size_ == 0 || fragment_size_ > kMaxPacketSize - kEapTlsOverhead) {
    throw std::invalid_argument("EAP-TLS fragment size out of range");
  }
}

void TlsFragments::set_state(State next) {
  if (next == state_) return;
  if (log_) log_(std::string("EAP-TLS: ") + to_string(state_) + " -> " + to_string(next));
  state_ = next;
}

TlsFragments::Event TlsFragments::fail(std::string why) {
  if (log_) log_("EAP-TLS: " + why);
  in_.clear();
  in_.shrink_to_fit();
  out_.clear();
  out_pos_ = 0;
  set_state(State::msg);
  return Event{Event::Kind::error, {}, std::move(why)};
}

TlsFragments::Event TlsFragments::on_response(std::span<const std::uint8_t> type_data) {
  TlsFrameParse parsed = parse_tls_frame(type_data);
  if (!parsed.frame) return fail(parsed.error);
  const TlsFrame& f = *parsed.frame;
  // RFC 5216 §3.1: S is only ever set by the server, in the EAP-TLS Start.
  if (f.start()) return fail("S flag set in an EAP-TLS Response");

  switch (state_) {
    case State::wait_frag_ack:
      // RFC 5216 §2.1.5: the peer MUST acknowledge each fragment with an empty response.
      if (!f.is_ack()) return fail("expected an ACK of our fragment, got data");
      return Event{Event::Kind::send, next_fragment(), {}};

    case State::msg: {
      if (f.is_ack()) return Event{Event::Kind::peer_ack, {}, {}};
      if (f.more()) {
        // RFC 5216 §3.1: L MUST be set on the first fragment of a fragmented message.
        if (!f.message_length) return fail("first fragment without TLS Message Length");
        const std::size_t announced = *f.message_length;
        // Checked before any allocation: the cap holds whatever the peer announces.
        if (announced > max_message_) {
          return fail("announced TLS Message Length " + std::to_string(announced) + " exceeds the cap of " +
                      std::to_string(max_message_));
        }
        if (f.data.empty()) return fail("empty first fragment");
        if (f.data.size() >= announced) return fail("first fragment already holds the announced length");
        // The announced length, known and capped, is reserved at once: the buffer's
        // capacity is exactly what the message will need (appending fragment by fragment
        // would grow it by doubling, to up to twice the cap), and the memory budget,
        // charged with capacity, sees the whole message from its first fragment on.
        in_.clear();
        in_.shrink_to_fit();
        in_.reserve(announced);
        in_.assign(f.data.begin(), f.data.end());
        in_expected_ = announced;
        set_state(State::frag_ack);
        return Event{Event::Kind::send, tls_ack_frame(), {}};
      }
      // Unfragmented: L is optional (RFC 5216 §2.1.5) but must be truthful when present.
      if (f.message_length && *f.message_length != f.data.size()) {
        return fail("TLS Message Length " + std::to_string(*f.message_length) + " does not match the " +
                    std::to_string(f.data.size()) + " octets carried");
      }
      if (f.data.size() > max_message_) return fail("TLS message exceeds the cap");
      return Event{Event::Kind::message, Bytes(f.data.begin(), f.data.end()), {}};
    }

    case State::frag_ack: {
      if (f.data.empty()) return fail("empty fragment while reassembling");
      // Some peers repeat L on every fragment; accept it only when it tells the same story.
      if (f.message_length && *f.message_length != in_expected_) {
        return fail("TLS Message Length changed between fragments");
      }
      if (f.data.size() > in_expected_ - in_.size()) return fail("fragments exceed the announced TLS Message Length");
      in_.insert(in_.end(), f.data.begin(), f.data.end());
      if (f.more()) {
        if (in_.size() == in_expected_) return fail("M flag set but the announced length is complete");
        return Event{Event::Kind::send, tls_ack_frame(), {}};
      }
      if (in_.size() != in_expected_) {
        return fail("fragments add up to " + std::to_string(in_.size()) + " octets, announced " +
                    std::to_string(in_expected_));
      }
      set_state(State::msg);
      Bytes message = std::move(in_);
      in_ = Bytes{};
      in_expected_ = 0;
      return Event{Event::Kind::message, std::move(message), {}};
    }
  }
  return fail("invalid fragmentation state");
}

Bytes TlsFragments::send(Bytes tls_message) {
  if (tls_message.empty()) throw std::invalid_argument("EAP-TLS: nothing to send");
  if (tls_message.size() > 0xFFFFFFFFu) throw std::length_error("EAP-TLS: message too long");
  if (state_ != State::msg) throw std::logic_error("EAP-TLS: send while a fragmented message is in flight");
  out_ = std::move(tls_message);
  out_pos_ = 0;
  return next_fragment();
}

// RFC 5216 §2.1.5: L on the first fragment of a fragmented message, M on all but the last;
// an unfragmented message goes without L.
Bytes TlsFragments::next_fragment() {
  const std::size_t remaining = out_.size() - out_pos_;
  const std::size_t take = std::min(remaining, fragment_size_);
  const bool more = take < remaining;
  std::optional<std::uint32_t> length;
  if (out_pos_ == 0 && more) length = static_cast<std::uint32_t>(out_.size());
  Bytes frame = build_tls_frame(more ? kTlsFlagMore : 0, length,
                                std::span<const std::uint8_t>(out_).subspan(out_pos_, take));
  out_pos_ += take;
  if (more) {
    set_state(State::wait_frag_ack);
  } else {
    out_.clear();
    out_.shrink_to_fit();
    out_pos_ = 0;
    set_state(State::msg);
  }
  return frame;
}

const char* to_string(TlsFragments::State state) {
  switch (state) {
    case TlsFragments::State::msg: return "MSG";
    case TlsFragments::State::frag_ack: return "FRAG_ACK";
    case TlsFragments::State::wait_frag_ack: return "WAIT_FRAG_ACK";
  }
  return "?";
}

}  // namespace portcullis::radius::eap
