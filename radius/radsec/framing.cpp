#include "radius/radsec/framing.hpp"

#include "radius/attributes.hpp"

#include <algorithm>

namespace portcullis::radius::radsec {

void StreamFramer::feed(ByteView bytes) {
  // Compact before growing, so a long-lived connection's buffer stays one packet or two.
  if (start_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

StreamFramer::Status StreamFramer::next(Bytes& out) {
  if (broken_) return Status::bad_length;
  if (buffered() < 4) return Status::need_more;
  const std::size_t length = (std::size_t{buffer_[start_ + 2]} << 8) | buffer_[start_ + 3];
  if (length < kHeaderLength || length > kMaxPacketLength) {
    broken_ = true;
    return Status::bad_length;
  }
  if (buffered() < length) return Status::need_more;
  const auto first = buffer_.begin() + static_cast<std::ptrdiff_t>(start_);
  out.assign(first, first + static_cast<std::ptrdiff_t>(length));
  start_ += length;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  return Status::packet;
}

}  // namespace portcullis::radius::radsec
