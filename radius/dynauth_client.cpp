#include "radius/dynauth_client.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace portcullis::radius {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;

udp::endpoint endpoint_of(const IpAddress& address, std::uint16_t port) {
  if (address.is_v4()) {
    asio::ip::address_v4::bytes_type b{};
    std::copy_n(address.bytes.begin() + 12, 4, b.begin());
    return {asio::ip::address_v4(b), port};
  }
  asio::ip::address_v6::bytes_type b{};
  std::copy(address.bytes.begin(), address.bytes.end(), b.begin());
  return {asio::ip::address_v6(b), port};
}

IpAddress address_of(const asio::ip::address& a) {
  if (a.is_v4()) return IpAddress::v4(a.to_v4().to_bytes());
  const auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return IpAddress::v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes());
  return IpAddress::v6(v6.to_bytes());
}

}  // namespace

std::shared_ptr<DynauthClient> DynauthClient::create(asio::io_context& io, DynauthClientOptions options) {
  std::shared_ptr<DynauthClient> client(new DynauthClient(io, std::move(options)));
  client->open();
  return client;
}

DynauthClient::DynauthClient(asio::io_context& io, DynauthClientOptions options)
    : io_(io), strand_(asio::make_strand(io)), socket4_(strand_), socket6_(strand_), options_(std::move(options)) {
  options_.attempts = std::max(1, options_.attempts);
  if (options_.initial_timeout.count() <= 0) options_.initial_timeout = std::chrono::milliseconds(1);
  options_.max_timeout = std::max(options_.max_timeout, options_.initial_timeout);
}

void DynauthClient::open() {
  socket4_.open(udp::v4());
  socket4_.bind(udp::endpoint(udp::v4(), 0));
  boost::system::error_code ec;
  // A bulk revocation sends thousands of requests at once and their answers arrive
  // together: a larger receive buffer keeps the answers from being dropped (and the
  // requests from being retransmitted for nothing). The kernel caps it at net.core.rmem_max.
  socket4_.set_option(udp::socket::receive_buffer_size(4 << 20), ec);
  socket6_.open(udp::v6(), ec);
  if (!ec) socket6_.set_option(asio::ip::v6_only(true), ec);
  if (!ec) socket6_.bind(udp::endpoint(udp::v6(), 0), ec);
  if (!ec) socket6_.set_option(udp::socket::receive_buffer_size(4 << 20), ec);
  if (ec) {
    spdlog::warn("dynauth: no IPv6 socket ({}); Disconnect/CoA to IPv6 NASes will time out", ec.message());
    socket6_.close(ec);
  }
  auto self = shared_from_this();
  asio::post(strand_, [self] {
    for (udp::socket* s : {&self->socket4_, &self->socket6_})
      if (s->is_open())
        self->receive(*s, std::make_shared<std::array<std::uint8_t, kMaxPacketLength + 1>>(),
                      std::make_shared<udp::endpoint>());
  });
}

void DynauthClient::receive(udp::socket& socket, std::shared_ptr<std::array<std::uint8_t, kMaxPacketLength + 1>> buffer,
                            std::shared_ptr<udp::endpoint> from) {
  socket.async_receive_from(
      asio::buffer(*buffer), *from,
      asio::bind_executor(strand_, [self = shared_from_this(), &socket, buffer, from](
                                       const boost::system::error_code& ec, std::size_t n) {
        if (ec == asio::error::operation_aborted || !socket.is_open()) return;
        if (!ec) self->on_datagram(buffer->data(), n, *from);
        self->receive(socket, buffer, from);
      }));
}

void DynauthClient::send(DynauthRequest request, Completion done) {
  // Refuse a malformed request now, on the caller's thread, rather than as a late outcome.
  validate_dynauth_request(request);
  auto pending = std::make_shared<Pending>(strand_);
  pending->destination = {request.target.address, request.target.port};
  pending->request = std::move(request);
  pending->done = std::move(done);
  requests_.fetch_add(1, std::memory_order_relaxed);
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  asio::post(strand_, [self = shared_from_this(), pending] { self->start(pending); });
}

void DynauthClient::start(std::shared_ptr<Pending> pending) {
  if (stopped_) {
    finish(pending, DynauthResult{DynauthOutcome::timeout, std::nullopt, 0, std::chrono::milliseconds(0)});
    return;
  }
  Destination& dest = destinations_[pending->destination];
  if (dest.active == dest.by_identifier.size()) {
    dest.waiting.push_back(std::move(pending));
    return;
  }
  // The next free Identifier after the last one used, so a late answer to a finished
  // request is unlikely to meet a new request under the same Identifier.
  std::uint8_t id = dest.next;
  while (dest.by_identifier[id]) ++id;
  dest.next = static_cast<std::uint8_t>(id + 1);
  dest.by_identifier[id] = pending;
  ++dest.active;
  pending->identifier = id;
  const ca::UnixTime now = options_.clock ? options_.clock() : ca::now_unix();
  try {
    pending->wire = encode_dynauth_request(pending->request, id, now);
  } catch (const std::exception& e) {  // attributes past 4096 octets: nothing can be sent
    spdlog::error("dynauth: {} to NAS {} not sent: {}", to_string(pending->request.kind),
                  pending->request.target.nas_name, e.what());
    pending->attempts = 1;  // so finish() frees the Identifier and starts the next waiting request
    finish(pending, DynauthResult{DynauthOutcome::timeout, std::nullopt, 0, std::chrono::milliseconds(0)});
    return;
  }
  pending->timeout = options_.initial_timeout;
  pending->first_sent = std::chrono::steady_clock::now();
  transmit(std::move(pending));
}

void DynauthClient::transmit(std::shared_ptr<Pending> pending) {
  ++pending->attempts;
  transmissions_.fetch_add(1, std::memory_order_relaxed);
  const udp::endpoint to = endpoint_of(pending->destination.first, pending->destination.second);
  udp::socket& socket = to.address().is_v4() ? socket4_ : socket6_;
  if (socket.is_open()) {
    boost::system::error_code ec;
    // UDP sends do not block for long; a synchronous send on the strand keeps the bytes'
    // lifetime trivial. A failed send is a lost datagram: the retry timer covers it.
    socket.send_to(asio::buffer(pending->wire), to, 0, ec);
    if (ec)
      spdlog::debug("dynauth: {} to NAS {} ({}): send failed: {}", to_string(pending->request.kind),
                    pending->request.target.nas_name, to.address().to_string(), ec.message());
  }
  pending->timer.expires_after(pending->timeout);
  pending->timer.async_wait([self = shared_from_this(), pending](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    Destination& dest = self->destinations_[pending->destination];
    if (dest.by_identifier[pending->identifier] != pending) return;  // already answered
    if (pending->attempts >= self->options_.attempts || self->stopped_) {
      self->finish(pending, DynauthResult{DynauthOutcome::timeout, std::nullopt, pending->attempts,
                                          std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now() - pending->first_sent)});
      return;
    }
    pending->timeout = std::min(pending->timeout * 2, self->options_.max_timeout);  // exponential backoff
    spdlog::debug("dynauth: {} to NAS {} id={}: no answer, retransmission {}", to_string(pending->request.kind),
                  pending->request.target.nas_name, pending->identifier, pending->attempts);
    self->transmit(pending);
  });
}

void DynauthClient::on_datagram(const std::uint8_t* data, std::size_t size, const udp::endpoint& from) {
  const ByteView bytes(data, size);
  const auto ignore = [&](const char* why) {
    ignored_.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("dynauth: ignored datagram from {}:{}: {}", from.address().to_string(), from.port(), why);
  };
  if (size < kHeaderLength) return ignore("shorter than a RADIUS header");
  const auto it = destinations_.find({address_of(from.address()), from.port()});
  if (it == destinations_.end()) return ignore("no request was sent there");
  const std::shared_ptr<Pending> pending = it->second.by_identifier[data[1]];
  if (!pending) return ignore("no request in flight with that Identifier");
  std::optional<std::uint32_t> error_cause;
  const ResponseCheck check =
      check_dynauth_response(bytes, pending->wire, pending->request.target.secret, pending->request.kind, &error_cause);
  if (check != ResponseCheck::ack && check != ResponseCheck::nak) return ignore(to_string(check));
  finish(pending, DynauthResult{check == ResponseCheck::ack ? DynauthOutcome::ack : DynauthOutcome::nak, error_cause,
                                pending->attempts,
                                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                      pending->first_sent)});
}

void DynauthClient::finish(const std::shared_ptr<Pending>& pending, DynauthResult result) {
  pending->timer.cancel();
  auto it = destinations_.find(pending->destination);
  if (it != destinations_.end() && pending->attempts > 0 && it->second.by_identifier[pending->identifier] == pending) {
    Destination& dest = it->second;
    dest.by_identifier[pending->identifier].reset();
    --dest.active;
    if (!dest.waiting.empty()) {
      auto next = std::move(dest.waiting.front());
      dest.waiting.pop_front();
      start(std::move(next));
    }
  }
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  switch (result.outcome) {
    case DynauthOutcome::ack: acks_.fetch_add(1, std::memory_order_relaxed); break;
    case DynauthOutcome::nak: naks_.fetch_add(1, std::memory_order_relaxed); break;
    case DynauthOutcome::timeout: timeouts_.fetch_add(1, std::memory_order_relaxed); break;
  }
  completed_[static_cast<std::size_t>(pending->request.kind)][static_cast<std::size_t>(result.outcome)].fetch_add(
      1, std::memory_order_relaxed);
  if (pending->done)
    asio::post(io_, [pending, result] { pending->done(pending->request, result); });
}

void DynauthClient::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    boost::system::error_code ec;
    self->socket4_.close(ec);
    self->socket6_.close(ec);
    // Everything in flight or waiting ends now, as a timeout.
    std::vector<std::shared_ptr<Pending>> all;
    for (auto& [key, dest] : self->destinations_) {
      for (auto& p : dest.by_identifier)
        if (p) all.push_back(p);
      for (auto& p : dest.waiting) all.push_back(p);
      dest.waiting.clear();
    }
    for (auto& p : all)
      self->finish(p, DynauthResult{DynauthOutcome::timeout, std::nullopt, p->attempts, std::chrono::milliseconds(0)});
  });
}

DynauthClientStats DynauthClient::stats() const {
  DynauthClientStats s;
  s.requests = requests_.load(std::memory_order_relaxed);
  s.transmissions = transmissions_.load(std::memory_order_relaxed);
  s.acks = acks_.load(std::memory_order_relaxed);
  s.naks = naks_.load(std::memory_order_relaxed);
  s.timeouts = timeouts_.load(std::memory_order_relaxed);
  s.ignored = ignored_.load(std::memory_order_relaxed);
  s.in_flight = in_flight_.load(std::memory_order_relaxed);
  for (std::size_t kind = 0; kind < s.completed.size(); ++kind)
    for (std::size_t outcome = 0; outcome < s.completed[kind].size(); ++outcome)
      s.completed[kind][outcome] = completed_[kind][outcome].load(std::memory_order_relaxed);
  return s;
}

}  // namespace portcullis::radius
