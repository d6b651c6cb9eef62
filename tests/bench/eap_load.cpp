// bench_eap_load: a RADIUS EAP-TLS load generator, over UDP or RadSec (docs/performance.md).
//
//   bench_eap_load --port N --secret S --ca F --cert F --key F [--server 127.0.0.1]
//                  [--tls 1.2|1.3] [--concurrency C] [--count N] [--resume]
//                  [--fragment-size N] [--calling-station-id PREFIX] [--timeout-ms T]
//                  [--retries R] [--max-seconds S] [--server-pid PID]
//                  [--half-open [--hold-seconds H]] [--reuse-first-session]
//                  [--radsec-cert F --radsec-key F]
//
// eapol_test spends ~4 ms of client CPU per authentication, which on a 2-core machine
// would measure the client, not the server. This one runs C conversations at a time from
// one thread: a test-only EAP-TLS peer per conversation (tests/unit/eap/eap_tls_peer.cpp,
// OpenSSL over memory BIOs) and our own RADIUS codec, over non-blocking UDP sockets and
// epoll. RADIUS identifiers are 8 bits per socket (RFC 2865 §3), so conversations are
// spread over ceil(C / kSlotsPerSocket) sockets, each with its own identifier pool.
//
// Every conversation is checked, not just counted: each reply's Response Authenticator
// and Message-Authenticator (RFC 3579 §3.2) must verify, the end must be Access-Accept
// with EAP-Success, and MS-MPPE-Recv-Key / MS-MPPE-Send-Key (RFC 2548) must decrypt to
// MSK[0..31] / MSK[32..63] of the key material the client itself exported (RFC 5216 §2.3,
// RFC 9190 §2.3). Any failed conversation makes the exit status non-zero.
//
// --resume: each slot first runs one full handshake (warm-up, not measured) and keeps its
// SSL_SESSION; the measured conversations then offer the slot's latest session, and one
// that is not resumed counts as a failure ("not-resumed"), since the figure would lie.
// --reuse-first-session offers the warm-up session every time instead: FreeRADIUS 3.2
// resumes a TLS 1.3 session from its on-disk cache any number of times but never
// resumes the ticket it issues in a resumed handshake, so chaining fails against it.
//
// --half-open: each conversation sends the Identity response and the ClientHello, waits
// for the server's first flight, then never answers again. When all have got that far
// (or failed), the server's RSS growth is reported per half-open session (needs
// --server-pid), held for --hold-seconds so an outside observer can look too.
//
// --server-pid: utime+stime and VmRSS of that process are read from /proc just before
// and just after the measured phase: server CPU per authentication without counting
// warm-up or start-up.
//
// --radsec-cert/--radsec-key: RADIUS over TLS (RFC 6614) instead of UDP, as a NAS with
// that certificate (`portcullis nas certificate`): each socket above is one TLS connection
// (TLS 1.3, the server verified against --ca), its packets framed by their Length, with
// the fixed secret "radsec" (§2.3). The handshakes happen before the measured phase.
//
// Bounded: at most --count conversations and --max-seconds of wall time; loopback only
// in practice (the server address is taken as given, IPv4).
#include "ca/x509.hpp"
#include "radius/attribute_values.hpp"
#include "radius/mppe.hpp"
#include "radius/packet.hpp"
#include "radius/eap/eap_packet.hpp"
#include "tests/unit/eap/eap_tls_peer.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace rad = portcullis::radius;
namespace eap = portcullis::radius::eap;
namespace pca = portcullis::ca;
using Clock = std::chrono::steady_clock;
using rad::Bytes;

// 200 of the 256 identifiers of a socket are in flight at most: the other 56 let an
// identifier rest a while before reuse (FIFO free list), so a late reply to a timed-out
// request is less likely to meet a new request with the same identifier (RFC 5080 §2.2.1).
constexpr std::size_t kSlotsPerSocket = 200;
constexpr std::uint32_t kFramedMtu = 1400;

struct Options {
  std::string server = "127.0.0.1";
  int port = 0;
  std::string secret;
  std::string ca_file, cert_file, key_file;
  int tls = 13;  // 12 or 13
  std::size_t concurrency = 32;
  std::size_t count = 1000;
  bool resume = false;
  bool reuse_first_session = false;  // offer the warm-up session every time (multi-use tickets)
  std::size_t fragment_size = 1398;
  std::string calling_station_prefix = "02-00-00";
  int timeout_ms = 2000;
  int retries = 3;
  double max_seconds = 300;
  int server_pid = 0;
  bool half_open = false;
  double hold_seconds = 0;
  std::string identity = "anonymous@bench.example";
  std::string radsec_cert, radsec_key;  // set: RadSec (RFC 6614) instead of UDP
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "bench_eap_load: %s\n"
               "usage: bench_eap_load --port N --secret S --ca F --cert F --key F [--server 127.0.0.1]\n"
               "  [--tls 1.2|1.3] [--concurrency C] [--count N] [--resume] [--fragment-size N]\n"
               "  [--calling-station-id PREFIX] [--timeout-ms T] [--retries R] [--max-seconds S]\n"
               "  [--server-pid PID] [--half-open [--hold-seconds H]] [--identity NAME]\n"
               "  [--reuse-first-session]  (with --resume) [--radsec-cert F --radsec-key F]\n",
               why);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    auto number = [&]() -> long {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 0) usage(("bad number for " + a).c_str());
      return n;
    };
    if (a == "--server") o.server = value();
    else if (a == "--port") o.port = static_cast<int>(number());
    else if (a == "--secret") o.secret = value();
    else if (a == "--ca") o.ca_file = value();
    else if (a == "--cert") o.cert_file = value();
    else if (a == "--key") o.key_file = value();
    else if (a == "--tls") {
      const std::string v = value();
      if (v == "1.2") o.tls = 12;
      else if (v == "1.3") o.tls = 13;
      else usage("--tls takes 1.2 or 1.3");
    } else if (a == "--concurrency") o.concurrency = static_cast<std::size_t>(number());
    else if (a == "--count") o.count = static_cast<std::size_t>(number());
    else if (a == "--resume") o.resume = true;
    else if (a == "--reuse-first-session") o.reuse_first_session = true;
    else if (a == "--fragment-size") o.fragment_size = static_cast<std::size_t>(number());
    else if (a == "--calling-station-id") o.calling_station_prefix = value();
    else if (a == "--timeout-ms") o.timeout_ms = static_cast<int>(number());
    else if (a == "--retries") o.retries = static_cast<int>(number());
    else if (a == "--max-seconds") o.max_seconds = static_cast<double>(number());
    else if (a == "--server-pid") o.server_pid = static_cast<int>(number());
    else if (a == "--half-open") o.half_open = true;
    else if (a == "--hold-seconds") o.hold_seconds = static_cast<double>(number());
    else if (a == "--identity") o.identity = value();
    else if (a == "--radsec-cert") o.radsec_cert = value();
    else if (a == "--radsec-key") o.radsec_key = value();
    else usage(("unknown option " + a).c_str());
  }
  if (o.port <= 0 || o.port > 65535) usage("--port is required");
  if (o.secret.empty()) usage("--secret is required");
  if (o.ca_file.empty() || o.cert_file.empty() || o.key_file.empty()) usage("--ca, --cert and --key are required");
  if (o.concurrency == 0 || o.count == 0) usage("--concurrency and --count must be positive");
  if (o.fragment_size < 64 || o.fragment_size > 4000) usage("--fragment-size must be 64..4000");
  if (o.half_open && o.resume) usage("--half-open and --resume do not mix");
  if (o.max_seconds <= 0) usage("--max-seconds must be positive");
  if (o.hold_seconds > 600) usage("--hold-seconds is at most 600");
  if (o.radsec_cert.empty() != o.radsec_key.empty()) usage("--radsec-cert and --radsec-key go together");
  if (!o.radsec_cert.empty() && o.secret != "radsec") usage("over RadSec the secret is \"radsec\" (RFC 6614 §2.3)");
  // Parked half-open conversations never free their slot, so every one needs its own.
  if (o.half_open) o.concurrency = o.count;
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// /proc/PID/stat fields 14 and 15 (utime, stime) in clock ticks; the command name in
// field 2 may hold spaces, so counting starts after its closing parenthesis.
std::optional<double> process_cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int f = 3; f <= 15 && (rest >> field); ++f) {
    if (f == 14) utime = std::stoull(field);
    if (f == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::optional<long> process_rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return std::nullopt;
}

double self_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// One UDP socket, or one RadSec connection, and its identifier pool.
struct Socket {
  int fd = -1;
  pca::SslPtr ssl;   // RadSec: the TLS connection on fd
  Bytes stream;      // RadSec: bytes read and not yet a whole packet
  std::deque<std::uint8_t> free_ids;
  std::array<int, 256> slot_of_id{};  // -1: identifier not in flight

  // `tls` null: UDP. Else a TCP connection to `to` and a (blocking) TLS handshake, then
  // non-blocking like the UDP socket.
  Socket(SSL_CTX* tls, const sockaddr_in& to) {
    fd = ::socket(AF_INET, (tls ? SOCK_STREAM : SOCK_DGRAM | SOCK_NONBLOCK) | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    // 10,000 half-open conversations answer in bursts of ~1.5 KB datagrams: a deep
    // receive buffer keeps the kernel from dropping them before we read.
    const int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (tls) connect_tls(tls, to);
    for (int i = 0; i < 256; ++i) free_ids.push_back(static_cast<std::uint8_t>(i));
    slot_of_id.fill(-1);
  }

  void connect_tls(SSL_CTX* tls, const sockaddr_in& to) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0)
      throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    ssl.reset(SSL_new(tls));
    if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 || SSL_connect(ssl.get()) != 1) {
      char err[256];
      ERR_error_string_n(ERR_get_error(), err, sizeof err);
      throw std::runtime_error(std::string("RadSec TLS handshake failed: ") + err);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  ~Socket() {
    if (ssl) SSL_shutdown(ssl.get());
    ssl.reset();
    if (fd >= 0) ::close(fd);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
};

enum class Phase { idle, running, half_open_parked, done };

struct Slot {
  std::size_t index = 0;
  std::size_t socket = 0;
  Phase phase = Phase::idle;
  bool warmup = false;  // --resume: the full handshake that yields the first session
  std::unique_ptr<eap::testing::EapTlsPeer> peer;
  pca::SslSessionPtr session;
  Bytes state;          // RFC 2865 §5.24: echoed from the last Access-Challenge
  Bytes datagram;       // the request in flight, resent as is on timeout (RFC 5080 §2.2.1)
  rad::Authenticator request_authenticator{};
  int identifier = -1;
  int tries = 0;
  int challenges = 0;
  Clock::time_point sent_at;
  Clock::time_point started_at;
  std::string calling_station_id;
};

class LoadGenerator {
 public:
  explicit LoadGenerator(Options options) : o_(std::move(options)) {
    const auto ca_certs = pca::certs_from_pem(read_file(o_.ca_file));
    if (ca_certs.empty()) throw std::runtime_error("no certificate in " + o_.ca_file);
    for (const auto& c : ca_certs) trust_.push_back(pca::X509Ptr(X509_dup(c.get())));
    cert_ = pca::cert_from_pem(read_file(o_.cert_file));
    key_ = pca::key_from_pem(read_file(o_.key_file));

    std::memset(&to_, 0, sizeof to_);
    to_.sin_family = AF_INET;
    to_.sin_port = htons(static_cast<std::uint16_t>(o_.port));
    if (inet_pton(AF_INET, o_.server.c_str(), &to_.sin_addr) != 1) throw std::runtime_error("bad --server address");

    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) throw std::runtime_error("epoll_create1 failed");
    if (!o_.radsec_cert.empty()) radsec_ = radsec_context();
    const std::size_t sockets = (o_.concurrency + kSlotsPerSocket - 1) / kSlotsPerSocket;
    for (std::size_t i = 0; i < sockets; ++i) {
      sockets_.push_back(std::make_unique<Socket>(radsec_.get(), to_));
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      if (epoll_ctl(epoll_, EPOLL_CTL_ADD, sockets_.back()->fd, &ev) != 0) throw std::runtime_error("epoll_ctl failed");
    }
    slots_.resize(o_.concurrency);
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      slots_[i].index = i;
      slots_[i].socket = i / kSlotsPerSocket;
      char mac[32];
      std::snprintf(mac, sizeof mac, "-%02X-%02X-%02X", static_cast<unsigned>((i >> 16) & 0xFF),
                    static_cast<unsigned>((i >> 8) & 0xFF), static_cast<unsigned>(i & 0xFF));
      slots_[i].calling_station_id = o_.calling_station_prefix + mac;
    }
  }
  ~LoadGenerator() {
    if (epoll_ >= 0) ::close(epoll_);
  }

  // The NAS side of RadSec: its certificate and key, the server verified against --ca.
  pca::SslCtxPtr radsec_context() const {
    pca::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) throw std::runtime_error("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    for (const auto& c : trust_) X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), c.get());
    // A retransmission offers the same bytes again, from the slot's buffer.
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), o_.radsec_cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), o_.radsec_key.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error("cannot load --radsec-cert / --radsec-key");
    return ctx;
  }
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  int run() {
    deadline_ = Clock::now() +
                std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.max_seconds));
    if (o_.resume) {
      // Warm-up: one full handshake per slot, all in flight at once; failures here are
      // reported under their own reasons and leave the slot without a session.
      for (auto& s : slots_) {
        s.warmup = true;
        start(s);
      }
      loop([&] { return in_flight_ == 0; });
      if (failed_total_ > 0 || timed_out_) {
        std::printf("warm-up failed: %zu of %zu full handshakes%s\n", failed_total_, slots_.size(),
                    timed_out_ ? " (--max-seconds reached)" : "");
        report(0, 0, std::nullopt, std::nullopt, std::nullopt);
        return 1;
      }
      completed_ = 0;
      resumed_ = 0;
      latencies_ms_.clear();
      round_trips_ = 0;
      retransmissions_ = 0;
    }

    const auto server_cpu0 = o_.server_pid > 0 ? process_cpu_seconds(o_.server_pid) : std::nullopt;
    const auto server_rss0 = o_.server_pid > 0 ? process_rss_kib(o_.server_pid) : std::nullopt;
    const double cpu0 = self_cpu_seconds();
    const auto t0 = Clock::now();
    for (auto& s : slots_) {
      s.warmup = false;
      if (started_ < o_.count) start(s);
    }
    loop([&] { return in_flight_ == 0 && started_ >= o_.count; });
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = self_cpu_seconds() - cpu0;
    std::optional<double> server_cpu;
    std::optional<long> rss_after;
    if (o_.server_pid > 0) {
      const auto c1 = process_cpu_seconds(o_.server_pid);
      if (server_cpu0 && c1) server_cpu = *c1 - *server_cpu0;
      rss_after = process_rss_kib(o_.server_pid);
    }
    if (timed_out_) failures_["deadline (--max-seconds)"] += o_.count - completed_ - failed_total_;
    report(elapsed, cpu, server_cpu, server_rss0, rss_after);
    if (o_.half_open && o_.hold_seconds > 0) {
      std::printf("holding %zu half-open sessions for %.0f s\n", parked_, o_.hold_seconds);
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::duration<double>(o_.hold_seconds));
    }
    return failed_total_ == 0 && !timed_out_ ? 0 : 1;
  }

 private:
  template <class Done>
  void loop(Done done) {
    std::array<std::uint8_t, 8192> buf{};
    auto last_scan = Clock::now();
    while (!done()) {
      if (Clock::now() > deadline_) {
        timed_out_ = true;
        return;
      }
      epoll_event events[64];
      const int n = epoll_wait(epoll_, events, 64, 10);
      for (int e = 0; e < n; ++e) {
        Socket& sock = *sockets_[events[e].data.u64];
        if (sock.ssl) {
          read_stream(events[e].data.u64, buf.data(), buf.size());
          continue;
        }
        for (;;) {
          const ssize_t got = ::recv(sock.fd, buf.data(), buf.size(), 0);
          if (got < 0) break;  // EAGAIN: drained
          on_datagram(events[e].data.u64, rad::ByteView(buf.data(), static_cast<std::size_t>(got)));
        }
      }
      // Timeouts are coarse (10 ms granularity is plenty against a 2 s timeout): scan.
      const auto now = Clock::now();
      if (now - last_scan >= std::chrono::milliseconds(10)) {
        last_scan = now;
        for (auto& s : slots_) {
          if (s.phase != Phase::running || s.identifier < 0) continue;
          if (now - s.sent_at < std::chrono::milliseconds(o_.timeout_ms)) continue;
          if (s.tries > o_.retries) {
            fail(s, "timeout");
            continue;
          }
          ++s.tries;
          ++retransmissions_;
          s.sent_at = now;
          transmit(s);
        }
      }
    }
  }

  // RadSec: every whole packet read so far, each as a datagram (RFC 6614 §2.5: framed by
  // its Length).
  void read_stream(std::size_t socket_index, std::uint8_t* buf, std::size_t size) {
    Socket& sock = *sockets_[socket_index];
    for (;;) {
      const int got = SSL_read(sock.ssl.get(), buf, static_cast<int>(size));
      if (got <= 0) {
        const int err = SSL_get_error(sock.ssl.get(), got);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
        throw std::runtime_error("the RadSec connection was closed by the server");
      }
      sock.stream.insert(sock.stream.end(), buf, buf + got);
    }
    std::size_t at = 0;
    while (sock.stream.size() - at >= 4) {
      const std::size_t length = (std::size_t{sock.stream[at + 2]} << 8) | sock.stream[at + 3];
      if (length < 20) throw std::runtime_error("a RadSec packet with Length < 20");
      if (sock.stream.size() - at < length) break;
      on_datagram(socket_index, rad::ByteView(sock.stream.data() + at, length));
      at += length;
    }
    sock.stream.erase(sock.stream.begin(), sock.stream.begin() + static_cast<std::ptrdiff_t>(at));
  }

  void start(Slot& s) {
    eap::testing::PeerOptions po;
    po.client_cert = cert_.get();
    po.client_key = key_.get();
    po.trust_root = trust_.front().get();
    for (std::size_t i = 1; i < trust_.size(); ++i) po.more_trust.push_back(trust_[i].get());
    po.min_version = po.max_version = o_.tls == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    po.fragment_size = o_.fragment_size;
    po.identity = o_.identity;
    if (o_.resume && !s.warmup) po.resume = s.session.get();
    s.peer = std::make_unique<eap::testing::EapTlsPeer>(po);
    s.state.clear();
    s.challenges = 0;
    s.phase = Phase::running;
    s.started_at = Clock::now();
    ++in_flight_;
    if (!s.warmup) ++started_;
    // RFC 3579 §3.1: the NAS forwards the supplicant's EAP-Response/Identity.
    send(s, s.peer->identity_response(1));
  }

  void send(Slot& s, const Bytes& eap_message) {
    Socket& sock = *sockets_[s.socket];
    if (sock.free_ids.empty()) throw std::logic_error("identifier pool exhausted");
    const std::uint8_t id = sock.free_ids.front();
    sock.free_ids.pop_front();
    sock.slot_of_id[id] = static_cast<int>(s.index);
    s.identifier = id;

    rad::Packet p;
    p.code = rad::Code::AccessRequest;
    p.identifier = id;
    p.authenticator = rad::random_authenticator();
    p.add(rad::attr::UserName, o_.identity);
    static constexpr std::uint8_t kLoopback[4] = {127, 0, 0, 1};
    p.add(rad::attr::NasIpAddress, rad::ByteView(kLoopback, 4));
    p.add_integer(rad::attr::NasPort, static_cast<std::uint32_t>(s.index));
    p.add_integer(61 /* NAS-Port-Type, RFC 2865 §5.41 */, 19 /* Wireless-802.11 */);
    p.add_integer(rad::attr::ServiceType, 2 /* Framed */);
    p.add_integer(rad::attr::FramedMtu, kFramedMtu);
    p.add(rad::attr::CalledStationId, std::string_view("02-00-00-00-00-01:bench"));
    p.add(rad::attr::CallingStationId, s.calling_station_id);
    if (!s.state.empty()) p.add(rad::attr::State, rad::ByteView(s.state));
    rad::add_eap_message(p, eap_message);
    auto encoded = rad::encode_request(p, o_.secret, /*message_authenticator=*/true);
    if (!encoded) throw std::runtime_error("Access-Request too large");
    s.datagram = std::move(encoded.value());
    s.request_authenticator = p.authenticator;
    s.tries = 0;
    s.sent_at = Clock::now();
    ++round_trips_;
    transmit(s);
  }

  void transmit(const Slot& s) {
    if (const auto& ssl = sockets_[s.socket]->ssl) {
      // A full send buffer counts as a lost packet, as over UDP: the timeout scan resends.
      if (SSL_write(ssl.get(), s.datagram.data(), static_cast<int>(s.datagram.size())) <= 0) ++send_errors_;
      return;
    }
    const ssize_t n = ::sendto(sockets_[s.socket]->fd, s.datagram.data(), s.datagram.size(), 0,
                               reinterpret_cast<const sockaddr*>(&to_), sizeof to_);
    // A full socket buffer or ECONNREFUSED (ICMP from a dead port) counts as a lost
    // packet: the timeout scan resends, and gives up after --retries.
    if (n < 0) ++send_errors_;
  }

  void release_identifier(Slot& s) {
    if (s.identifier < 0) return;
    Socket& sock = *sockets_[s.socket];
    sock.slot_of_id[static_cast<std::size_t>(s.identifier)] = -1;
    sock.free_ids.push_back(static_cast<std::uint8_t>(s.identifier));
    s.identifier = -1;
  }

  void on_datagram(std::size_t socket_index, rad::ByteView data) {
    auto parsed = rad::parse(data);
    if (!parsed) {
      ++stray_;
      return;
    }
    Socket& sock = *sockets_[socket_index];
    const int slot_index = sock.slot_of_id[parsed->identifier];
    if (slot_index < 0) {
      ++stray_;  // a late duplicate reply to a request we already gave up or got answered
      return;
    }
    Slot& s = slots_[static_cast<std::size_t>(slot_index)];
    // RFC 2865 §3: a reply that does not verify against our Request Authenticator is not
    // an answer to this request (stale, or a wrong secret): drop it and let the timer run.
    if (!rad::verify_response_authenticator(data, s.request_authenticator, o_.secret)) {
      ++bad_authenticator_;
      return;
    }
    // RFC 3579 §3.2: replies carrying EAP must carry a valid Message-Authenticator.
    if (rad::check_message_authenticator(data, o_.secret, &s.request_authenticator) !=
        rad::MessageAuthenticatorStatus::Valid) {
      release_identifier(s);
      fail(s, "reply without valid Message-Authenticator");
      return;
    }
    const rad::Authenticator request_authenticator = s.request_authenticator;
    release_identifier(s);
    const rad::Packet& reply = parsed.value();
    try {
      handle(s, reply, request_authenticator);
    } catch (const std::exception& e) {
      fail(s, std::string("peer: ") + e.what());
    }
  }

  void handle(Slot& s, const rad::Packet& reply, const rad::Authenticator& request_authenticator) {
    const auto joined = rad::join_eap_message(reply);
    if (reply.code == rad::Code::AccessReject) {
      fail(s, "Access-Reject");
      return;
    }
    if (joined.status != rad::JoinedEap::Status::Joined) {
      fail(s, "reply without EAP-Message");
      return;
    }
    if (reply.code == rad::Code::AccessChallenge) {
      const auto* state = reply.find(rad::attr::State);
      s.state = state != nullptr ? state->value : Bytes{};
      ++s.challenges;
      auto next = s.peer->respond(joined.eap);
      if (!next) {
        fail(s, "EAP-Success/Failure inside Access-Challenge");
        return;
      }
      // The ClientHello goes out in answer to the server's EAP-TLS Start (challenge 1);
      // the first reply to it is the server's first flight: the session is now half-open.
      if (o_.half_open && s.challenges >= 2) {
        s.phase = Phase::half_open_parked;
        ++parked_;
        ++completed_;
        --in_flight_;
        return;
      }
      send(s, *next);
      return;
    }
    if (reply.code != rad::Code::AccessAccept) {
      fail(s, "unexpected RADIUS code " + std::to_string(static_cast<int>(reply.code)));
      return;
    }
    s.peer->respond(joined.eap);
    if (!s.peer->saw_success()) {
      fail(s, "Access-Accept without EAP-Success");
      return;
    }
    if (!s.peer->handshake_done()) {
      fail(s, "EAP-Success before the TLS handshake finished");
      return;
    }
    const auto recv = reply.find_vendor(rad::vendor::Microsoft, rad::ms::MppeRecvKey);
    const auto send_key = reply.find_vendor(rad::vendor::Microsoft, rad::ms::MppeSendKey);
    if (!recv || !send_key) {
      fail(s, "Access-Accept without MS-MPPE keys");
      return;
    }
    const auto recv_plain = rad::mppe_decrypt(*recv, o_.secret, request_authenticator);
    const auto send_plain = rad::mppe_decrypt(*send_key, o_.secret, request_authenticator);
    const auto keys = s.peer->keys();
    // RFC 2548 / RFC 5216 §2.3: Recv-Key = MSK[0..31], Send-Key = MSK[32..63].
    const bool recv_ok = recv_plain && recv_plain->size() >= 32 &&
                         std::equal(keys.msk.begin(), keys.msk.begin() + 32, recv_plain->begin());
    const bool send_ok = send_plain && send_plain->size() >= 32 &&
                         std::equal(keys.msk.begin() + 32, keys.msk.end(), send_plain->begin());
    if (!recv_ok || !send_ok) {
      fail(s, "MPPE keys differ from the client's MSK");
      return;
    }
    const bool resumed = s.peer->resumed();
    if (o_.resume && !s.warmup && !resumed) {
      fail(s, "not-resumed");
      return;
    }
    if (resumed) ++resumed_;
    // Keep the newest session: a TLS 1.3 server may issue a fresh ticket on resumption
    // and treat the old one as used (RFC 8446 §8.1 single-use tickets).
    if (o_.resume && (s.warmup || !o_.reuse_first_session)) {
      auto latest = s.peer->session();
      if (latest.get() == s.session.get()) ++no_new_session_;
      s.session = std::move(latest);
    }
    latencies_ms_.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s.started_at).count());
    ++completed_;
    finish(s);
  }

  void fail(Slot& s, const std::string& reason) {
    release_identifier(s);
    ++failures_[reason];
    ++failed_total_;
    finish(s);
  }

  // The slot's conversation is over: start the next one unless the count is reached.
  void finish(Slot& s) {
    s.peer.reset();
    s.phase = Phase::done;
    --in_flight_;
    if (!s.warmup && started_ < o_.count) start(s);
  }

  void report(double elapsed, double client_cpu, std::optional<double> server_cpu, std::optional<long> rss0,
              std::optional<long> rss1) {
    std::sort(latencies_ms_.begin(), latencies_ms_.end());
    auto pct = [&](double p) {
      if (latencies_ms_.empty()) return 0.0;
      return latencies_ms_[std::min(latencies_ms_.size() - 1, static_cast<std::size_t>(p * latencies_ms_.size()))];
    };
    const double done = static_cast<double>(std::max<std::size_t>(completed_, 1));
    const char* mode = o_.half_open ? "half-open" : (o_.resume ? "resumed" : "full");
    std::printf("mode             %s, TLS 1.%d, concurrency %zu, %zu socket(s), fragment %zu\n", mode, o_.tls - 10,
                o_.concurrency, sockets_.size(), o_.fragment_size);
    std::printf("completed        %zu%s\n", completed_, o_.half_open ? " (parked half-open)" : "");
    std::printf("failed           %zu\n", failed_total_);
    for (const auto& [reason, n] : failures_) std::printf("  %-40s %zu\n", reason.c_str(), n);
    std::printf("resumed          %zu (%zu ended with no new session/ticket)\n", resumed_, no_new_session_);
    std::printf("elapsed          %.3f s\n", elapsed);
    std::printf("auths/s          %.1f\n", elapsed > 0 ? static_cast<double>(completed_) / elapsed : 0.0);
    std::printf("round trips      %.2f per conversation, %zu retransmissions, %zu send errors, %zu stray replies, "
                "%zu bad authenticator\n",
                static_cast<double>(round_trips_) / done, retransmissions_, send_errors_, stray_, bad_authenticator_);
    if (!o_.half_open) std::printf("latency ms       p50 %.2f  p99 %.2f\n", pct(0.5), pct(0.99));
    std::printf("client CPU       %.3f s = %.3f ms per conversation\n", client_cpu, 1000 * client_cpu / done);
    if (server_cpu) {
      std::printf("server CPU       %.3f s = %.3f ms per conversation\n", *server_cpu, 1000 * *server_cpu / done);
    }
    if (rss0 && rss1) {
      std::printf("server RSS       %ld KiB -> %ld KiB", *rss0, *rss1);
      if (o_.half_open) std::printf(" = %.2f KiB per half-open session", static_cast<double>(*rss1 - *rss0) / done);
      std::printf("\n");
    }
    // One machine-readable line for tests/bench/run_radius_bench.py.
    std::printf("RESULT {\"mode\":\"%s\",\"tls\":\"1.%d\",\"concurrency\":%zu,\"completed\":%zu,\"failed\":%zu,"
                "\"resumed\":%zu,\"elapsed_s\":%.6f,\"client_cpu_s\":%.6f,\"server_cpu_s\":%s,"
                "\"rss_before_kib\":%s,\"rss_after_kib\":%s,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"retransmissions\":%zu,"
                "\"failures\":{%s}}\n",
                mode, o_.tls - 10, o_.concurrency, completed_, failed_total_, resumed_, elapsed, client_cpu,
                server_cpu ? std::to_string(*server_cpu).c_str() : "null",
                rss0 ? std::to_string(*rss0).c_str() : "null", rss1 ? std::to_string(*rss1).c_str() : "null",
                pct(0.5), pct(0.99), retransmissions_, failures_json().c_str());
    std::fflush(stdout);
  }

  std::string failures_json() const {
    std::string out;
    for (const auto& [reason, n] : failures_) {
      if (!out.empty()) out += ',';
      out += '"';
      for (const char c : reason) {
        if (c == '"' || c == '\\') out += '\\';
        out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
      }
      out += "\":" + std::to_string(n);
    }
    return out;
  }

  Options o_;
  std::vector<pca::X509Ptr> trust_;
  pca::X509Ptr cert_;
  pca::EvpPkeyPtr key_;
  sockaddr_in to_{};
  int epoll_ = -1;
  pca::SslCtxPtr radsec_;  // RadSec: the NAS's TLS context; null over UDP
  std::vector<std::unique_ptr<Socket>> sockets_;
  std::vector<Slot> slots_;
  Clock::time_point deadline_;
  bool timed_out_ = false;
  std::size_t started_ = 0, in_flight_ = 0, completed_ = 0, failed_total_ = 0, resumed_ = 0, parked_ = 0;
  std::size_t no_new_session_ = 0;
  std::size_t round_trips_ = 0, retransmissions_ = 0, stray_ = 0, bad_authenticator_ = 0, send_errors_ = 0;
  std::map<std::string, std::size_t> failures_;
  std::vector<double> latencies_ms_;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    LoadGenerator generator(parse_options(argc, argv));
    return generator.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_eap_load: %s\n", e.what());
    return 2;
  }
}
