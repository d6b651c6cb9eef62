#include "radius/udp_listener.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace portcullis::radius {

namespace asio = boost::asio;
using asio::ip::udp;

std::shared_ptr<UdpListener> UdpListener::create(asio::io_context& io, const std::string& bind_address,
                                                 std::uint16_t port, SocketKind kind, Handler handler,
                                                 std::atomic<std::uint64_t>* send_failures) {
  std::shared_ptr<UdpListener> self(new UdpListener(io, kind, std::move(handler), send_failures));
  const udp::endpoint endpoint(asio::ip::make_address(bind_address), port);
  self->socket_.open(endpoint.protocol());
  if (endpoint.address().is_v6()) {
    // "::" serves IPv4 too (mapped addresses), as an operator binding "::" expects.
    self->socket_.set_option(asio::ip::v6_only(false));
  }
  self->socket_.bind(endpoint);
  self->port_ = self->socket_.local_endpoint().port();
  return self;
}

UdpListener::UdpListener(asio::io_context& io, SocketKind kind, Handler handler,
                         std::atomic<std::uint64_t>* send_failures)
    : io_(io),
      strand_(asio::make_strand(io)),
      socket_(strand_),
      kind_(kind),
      handler_(std::move(handler)),
      send_failures_(send_failures) {}

void UdpListener::start() {
  asio::post(strand_, [self = shared_from_this()] { self->receive(); });
}

void UdpListener::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->socket_.close(ignored);
  });
}

void UdpListener::receive() {
  if (!socket_.is_open()) return;
  socket_.async_receive_from(
      asio::buffer(buffer_), from_,
      asio::bind_executor(strand_, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (ec == asio::error::operation_aborted || !self->socket_.is_open()) return;
        if (!ec) {
          auto data = std::make_shared<Bytes>(self->buffer_.begin(), self->buffer_.begin() + static_cast<long>(n));
          // Off the strand: the next receive need not wait for this datagram's EAP step.
          asio::post(self->io_, [self, data, from = self->from_] { self->process(data, from); });
        } else {
          // ICMP port unreachable from an earlier reply and the like: not fatal for UDP.
          spdlog::debug("radius: receive error: {}", ec.message());
        }
        self->receive();
      }));
}

void UdpListener::process(std::shared_ptr<Bytes> data, udp::endpoint from) {
  Datagram datagram;
  datagram.bytes = *data;
  const auto address = from.address();
  if (address.is_v4()) {
    datagram.source = IpAddress::v4(address.to_v4().to_bytes());
  } else {
    datagram.source = IpAddress::v6(address.to_v6().to_bytes());  // a mapped v4 stays mapped: same key
  }
  datagram.source_port = from.port();
  datagram.socket = kind_;
  std::optional<Bytes> reply = handler_(datagram);
  if (!reply) return;
  auto out = std::make_shared<Bytes>(std::move(*reply));
  asio::post(strand_, [self = shared_from_this(), out, from] {
    if (!self->socket_.is_open()) return;
    self->socket_.async_send_to(asio::buffer(*out), from,
                                asio::bind_executor(self->strand_, [self, out](const boost::system::error_code& ec,
                                                                               std::size_t) {
                                  if (ec && ec != asio::error::operation_aborted) {
                                    if (self->send_failures_ != nullptr) bump(*self->send_failures_);
                                    spdlog::debug("radius: send failed: {}", ec.message());
                                  }
                                }));
  });
}

}  // namespace portcullis::radius
