// The Asio edge of RFC 5176 dynamic authorization: sends Disconnect-Requests and
// CoA-Requests (radius/dynauth.hpp builds and checks them) to NASes, many at once, and
// reports each outcome (ACK, NAK with Error-Cause, or timeout after the retries).
//
// - One UDP socket per address family, bound to an ephemeral port; the NAS answers to it.
// - Identifiers are allocated per destination (address, port): RFC 2865 §3 makes the
//   Identifier unique per source/destination pair, so 256 requests may be in flight to each
//   NAS at once; more wait in a queue for that NAS only.
// - Retransmission (RFC 5080 §2.2.1): the same bytes again (same Identifier, same
//   Event-Timestamp, so the NAS's duplicate detection answers a retransmission of a request
//   it already acted on), after a timeout that doubles each time up to a cap.
// - Every socket operation and all bookkeeping run on one strand; send() may be called from
//   any thread and returns at once. Completions run on the io_context outside the strand,
//   so a slow completion (a ledger write) never delays the next request.
#pragma once

#include "radius/dynauth.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace portcullis::radius {

struct DynauthClientOptions {
  // Transmissions in all (the first one included). A NAS admin expects a few seconds of
  // patience in total, not minutes: 1 s + 2 s + 4 s = 7 s before "timeout" by default.
  int attempts = 3;
  std::chrono::milliseconds initial_timeout{1000};
  std::chrono::milliseconds max_timeout{8000};  // cap of the doubling
  std::function<ca::UnixTime()> clock;         // Event-Timestamp source; empty = system clock
};

struct DynauthClientStats {
  std::uint64_t requests = 0;        // send() calls
  std::uint64_t transmissions = 0;   // datagrams sent, retransmissions included
  std::uint64_t acks = 0;
  std::uint64_t naks = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t ignored = 0;         // answers that matched no request or failed the authenticator check
  std::uint64_t in_flight = 0;
  // Completed requests by kind and outcome: [DynauthKind][DynauthOutcome].
  std::array<std::array<std::uint64_t, 3>, 2> completed{};
};

class DynauthClient : public std::enable_shared_from_this<DynauthClient> {
 public:
  using Completion = std::function<void(const DynauthRequest& request, const DynauthResult& result)>;

  // Opens the sockets at once (boost::system::system_error if IPv4 cannot be opened; IPv6
  // is optional and requests to IPv6 NASes time out without it, logged).
  static std::shared_ptr<DynauthClient> create(boost::asio::io_context& io, DynauthClientOptions options = {});

  // Queues one request; never blocks, never throws for a NAS problem (those are outcomes).
  // Throws std::invalid_argument for a request encode_dynauth_request() refuses.
  void send(DynauthRequest request, Completion done);
  // Closes the sockets; requests in flight complete as timeouts.
  void stop();
  DynauthClientStats stats() const;

 private:
  using DestinationKey = std::pair<IpAddress, std::uint16_t>;
  struct Pending {
    DynauthRequest request;
    Completion done;
    DestinationKey destination;
    Bytes wire;
    std::uint8_t identifier = 0;
    int attempts = 0;
    std::chrono::milliseconds timeout{0};
    std::chrono::steady_clock::time_point first_sent{};
    boost::asio::steady_timer timer;
    explicit Pending(boost::asio::any_io_executor executor) : timer(std::move(executor)) {}
  };
  struct Destination {
    std::array<std::shared_ptr<Pending>, 256> by_identifier{};  // in flight
    std::uint8_t next = 0;                                       // where the search for a free one starts
    std::size_t active = 0;
    std::deque<std::shared_ptr<Pending>> waiting;                // all 256 Identifiers busy
  };

  DynauthClient(boost::asio::io_context& io, DynauthClientOptions options);
  void open();
  void receive(boost::asio::ip::udp::socket& socket, std::shared_ptr<std::array<std::uint8_t, kMaxPacketLength + 1>> buffer,
               std::shared_ptr<boost::asio::ip::udp::endpoint> from);
  void start(std::shared_ptr<Pending> pending);
  void transmit(std::shared_ptr<Pending> pending);
  void on_datagram(const std::uint8_t* data, std::size_t size, const boost::asio::ip::udp::endpoint& from);
  void finish(const std::shared_ptr<Pending>& pending, DynauthResult result);

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::udp::socket socket4_;
  boost::asio::ip::udp::socket socket6_;
  DynauthClientOptions options_;
  std::map<DestinationKey, Destination> destinations_;  // strand only
  bool stopped_ = false;                                // strand only

  std::atomic<std::uint64_t> requests_{0}, transmissions_{0}, acks_{0}, naks_{0}, timeouts_{0}, ignored_{0},
      in_flight_{0};
  std::array<std::array<std::atomic<std::uint64_t>, 3>, 2> completed_{};
};

}  // namespace portcullis::radius
