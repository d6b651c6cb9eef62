// RADIUS packets on a byte stream (RadSec, RFC 6614 §2.5; RFC 2865 §3): packets follow one
// another with no separator, and each one's Length field (octets 2-3) says where it ends.
// No I/O: the connection feeds what it read and takes whole packets out.
#pragma once

#include "radius/packet.hpp"

#include <cstddef>

namespace portcullis::radius::radsec {

class StreamFramer {
 public:
  enum class Status {
    need_more,   // no whole packet buffered yet
    packet,      // `out` holds the next packet
    bad_length,  // a Length below 20 or above 4096: the stream cannot be resynchronised
  };

  void feed(ByteView bytes);
  // The next whole packet. After bad_length every call answers bad_length again: the
  // connection must be closed (RFC 6614 §2.5 leaves no way to skip to the next packet).
  Status next(Bytes& out);
  std::size_t buffered() const { return buffer_.size() - start_; }

 private:
  Bytes buffer_;
  std::size_t start_ = 0;  // first unconsumed octet; compacted when a packet leaves
  bool broken_ = false;
};

}  // namespace portcullis::radius::radsec
