// The Asio edge of the RADIUS server: one UDP socket (IPv4 or IPv6, by the bind address),
// datagrams handed to a handler (radius::Server::handle) and its reply sent back to the
// source. All protocol decisions are the handler's.
//
// Threading: one receive is outstanding at a time. Its completion, on whichever io thread
// the reactor picks, copies the datagram out, re-arms the receive, then runs the handler
// and sends the reply on that same thread. So one slow EAP-TLS step never holds up the next
// datagram (another io thread takes it), and a datagram costs no hand-off between threads.
// socket_mutex_ orders those steps against stop(): re-arming and sending share it, closing
// takes it alone, so no send ever reaches a closed (or reused) descriptor.
#pragma once

#include "radius/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>

namespace portcullis::radius {

class UdpListener : public std::enable_shared_from_this<UdpListener> {
 public:
  using Handler = std::function<std::optional<Bytes>(const Datagram&)>;

  // Binds at once (so the caller learns the port and any bind error, as
  // boost::system::system_error).
  // `send_failures` (optional) counts replies the kernel would not take.
  static std::shared_ptr<UdpListener> create(boost::asio::io_context& io, const std::string& bind_address,
                                             std::uint16_t port, SocketKind kind, Handler handler,
                                             std::atomic<std::uint64_t>* send_failures = nullptr);

  void start();
  void stop();  // closes the socket; pending handlers finish, nothing new is received
  std::uint16_t port() const { return port_; }

 private:
  UdpListener(boost::asio::io_context& io, SocketKind kind, Handler handler, std::atomic<std::uint64_t>* send_failures);
  void receive();  // caller holds socket_mutex_
  void on_receive(const boost::system::error_code& ec, std::size_t size);
  void send(const Bytes& reply, const boost::asio::ip::udp::endpoint& to);

  std::shared_mutex socket_mutex_;
  boost::asio::ip::udp::socket socket_;
  SocketKind kind_;
  Handler handler_;
  std::atomic<std::uint64_t>* send_failures_;
  std::uint16_t port_ = 0;
  // One byte more than RADIUS allows (RFC 2865 §3: 4096), so an oversized datagram is
  // seen as such by the parser instead of being silently cut to a valid length.
  std::array<std::uint8_t, kMaxPacketLength + 1> buffer_{};
  boost::asio::ip::udp::endpoint from_;
};

}  // namespace portcullis::radius
