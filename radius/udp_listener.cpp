#include "radius/udp_listener.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <mutex>

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
    : socket_(io), kind_(kind), handler_(std::move(handler)), send_failures_(send_failures) {}

void UdpListener::start() {
  std::shared_lock lock(socket_mutex_);
  receive();
}

void UdpListener::stop() {
  std::unique_lock lock(socket_mutex_);
  boost::system::error_code ignored;
  socket_.close(ignored);  // the pending receive completes with operation_aborted
}

void UdpListener::receive() {
  if (!socket_.is_open()) return;
  socket_.async_receive_from(asio::buffer(buffer_), from_,
                             [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                               self->on_receive(ec, n);
                             });
}

void UdpListener::on_receive(const boost::system::error_code& ec, std::size_t size) {
  if (ec == asio::error::operation_aborted) return;
  // Only one receive is ever outstanding, so buffer_ and from_ are this handler's until
  // it re-arms: take the datagram out first.
  Datagram datagram;
  const udp::endpoint from = from_;
  Bytes bytes;
  if (!ec) {
    bytes.assign(buffer_.begin(), buffer_.begin() + static_cast<long>(size));
    datagram.bytes = bytes;
    const auto address = from.address();
    if (address.is_v4()) {
      datagram.source = IpAddress::v4(address.to_v4().to_bytes());
    } else {
      datagram.source = IpAddress::v6(address.to_v6().to_bytes());  // a mapped v4 stays mapped: same key
    }
    datagram.source_port = from.port();
    datagram.socket = kind_;
  }
  {
    std::shared_lock lock(socket_mutex_);
    if (!socket_.is_open()) return;
    // Re-armed before this datagram's EAP step, so another io thread takes the next one
    // while this one works: no hand-off between threads for a datagram.
    receive();
  }
  if (ec) {
    // ICMP port unreachable from an earlier reply and the like: not fatal for UDP.
    spdlog::debug("radius: receive error: {}", ec.message());
    return;
  }
  if (std::optional<Bytes> reply = handler_(datagram)) send(*reply, from);
}

void UdpListener::send(const Bytes& reply, const udp::endpoint& to) {
  std::shared_lock lock(socket_mutex_);  // the descriptor stays ours until the send returns
  if (!socket_.is_open()) return;
  // A plain non-blocking sendto on the descriptor: a UDP socket takes concurrent sends from
  // any thread, and the reply leaves at once instead of queueing behind the reactor. A
  // datagram the kernel will not take now (EAGAIN) is dropped and counted, as any UDP loss:
  // the NAS retransmits and the duplicate cache answers (RFC 5080 §2.2.2).
  const ssize_t sent = ::sendto(socket_.native_handle(), reply.data(), reply.size(), MSG_DONTWAIT, to.data(),
                                static_cast<socklen_t>(to.size()));
  if (sent < 0) {
    const int error = errno;
    if (send_failures_ != nullptr) bump(*send_failures_);
    spdlog::debug("radius: send failed: {}", std::strerror(error));
  }
}

}  // namespace portcullis::radius
