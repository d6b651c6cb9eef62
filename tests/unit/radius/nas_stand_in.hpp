// A NAS stand-in for the RFC 5176 tests: a UDP socket on 127.0.0.1 served by its own
// thread; `respond` decides the answer to each request (or none). Records every request.
#pragma once

#include "radius/packet.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace portcullis::radius::testing {

namespace stand_in_asio = boost::asio;

// A NAS stand-in: a blocking UDP socket on its own thread; `respond` decides per request.
class NasStandIn {
 public:
  using Respond = std::function<std::optional<Bytes>(const Bytes& request)>;
  explicit NasStandIn(Respond respond) : socket_(io_, stand_in_asio::ip::udp::endpoint(stand_in_asio::ip::make_address("127.0.0.1"), 0)),
                                         respond_(std::move(respond)) {
    socket_.non_blocking(false);
    // A burst of 256 requests (one per Identifier) must not overflow the default buffer.
    socket_.set_option(stand_in_asio::ip::udp::socket::receive_buffer_size(1 << 20));
    thread_ = std::thread([this] { loop(); });
  }
  ~NasStandIn() {
    stopping_ = true;
    boost::system::error_code ec;
    stand_in_asio::ip::udp::socket poke(io_, stand_in_asio::ip::udp::v4());
    poke.send_to(stand_in_asio::buffer(Bytes{0}), socket_.local_endpoint(), 0, ec);
    thread_.join();
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }
  std::vector<Bytes> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void loop() {
    std::array<std::uint8_t, 4096> buf{};
    while (true) {
      stand_in_asio::ip::udp::endpoint from;
      boost::system::error_code ec;
      const std::size_t n = socket_.receive_from(stand_in_asio::buffer(buf), from, 0, ec);
      if (stopping_) return;
      if (ec) continue;
      Bytes request(buf.begin(), buf.begin() + static_cast<long>(n));
      {
        std::lock_guard lock(mutex_);
        received_.push_back(request);
      }
      if (auto reply = respond_(request)) socket_.send_to(stand_in_asio::buffer(*reply), from, 0, ec);
    }
  }
  stand_in_asio::io_context io_;
  stand_in_asio::ip::udp::socket socket_;
  Respond respond_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<Bytes> received_;
  std::thread thread_;
};

inline Bytes reply_to(const Bytes& request, Code code, const std::string& secret, std::optional<std::uint32_t> cause = {}) {
  Packet reply;
  reply.code = code;
  reply.identifier = request[1];
  if (cause) reply.add_integer(attr::ErrorCause, *cause);
  Authenticator ra{};
  std::copy_n(request.begin() + 4, 16, ra.begin());
  return encode_reply(reply, ra, secret, true).value();
}

}  // namespace portcullis::radius::testing
