// Splits one fuzz input into several messages: each message is a 2-octet big-endian
// length followed by that many octets (a short last message takes what is left). The
// same framing is what tests/fuzz/make_corpus.py writes for recorded conversations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace portcullis::fuzz {

inline std::vector<std::span<const std::uint8_t>> split_messages(const std::uint8_t* data, std::size_t size) {
  std::vector<std::span<const std::uint8_t>> out;
  std::size_t at = 0;
  while (at + 2 <= size) {
    std::size_t n = (static_cast<std::size_t>(data[at]) << 8) | data[at + 1];
    at += 2;
    if (n > size - at) n = size - at;
    out.emplace_back(data + at, n);
    at += n;
  }
  return out;
}

}  // namespace portcullis::fuzz
