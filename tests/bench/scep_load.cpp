// bench_scep_load: a SCEP (RFC 8894) enrollment load generator (issue 3 "Performance").
//
//   bench_scep_load --port N [--host 127.0.0.1] [--path /scep] [--count N] [--concurrency C]
//                   (--challenge S | --challenges-file F) [--key-pool K] [--cn-prefix P]
//                   [--server-pid PID] [--cipher aes256|aes128|des3] [--max-seconds S]
//
// The same client for every server (Portcullis, micromdm scepserver), so that only the
// server differs. Three phases:
// 1. Set-up (not timed): GetCACert; the recipient is the first RSA certificate that is not
//    a CA (Portcullis' RA), or else the first RSA certificate (micromdm's CA, which is its
//    own RA). Then --count PKCSReq messages are generated: each has its own CSR (CN =
//    prefix-i, the challenge), its own self-signed signing certificate and its own
//    transactionID, encrypted to that recipient. RSA-2048 keys come from a pool of
//    --key-pool keys (key generation costs ~100 ms each and the server's work does not
//    depend on which key it sees).
// 2. Timed: --concurrency threads POST the prepared messages (one connection per request,
//    as separate devices would), storing the replies. --server-pid's utime+stime are read
//    from /proc just before and after: server CPU per enrollment.
// 3. Checked (not timed): every reply must verify under a GetCACert certificate, be a
//    CertRep SUCCESS for its transaction, and decrypt to a certificate for the request's
//    key and CN; serials must all differ. Any failure makes the exit status non-zero.
//    Server CPU is divided by the replies that carried a valid certificate ("issued"),
//    duplicate serials included: the server did that work.
//
// Prints one line "RESULT {json}". Bounded by --count and --max-seconds.
#include "app/http/client.hpp"
#include "ca/x509.hpp"
#include "tests/unit/scep/scep_requester.hpp"

#include <openssl/provider.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace pca = portcullis::ca;
namespace st = portcullis::scep::testing;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/scep";
  std::size_t count = 500;
  std::size_t concurrency = 16;
  std::string challenge;
  std::string challenges_file;   // one challenge a line, one per request (one-time challenges)
  std::size_t key_pool = 32;
  std::string cn_prefix = "bench";
  int server_pid = 0;
  std::string cipher = "aes256";
  double max_seconds = 600;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "bench_scep_load: " << why << "\n"
            << "usage: bench_scep_load --port N [--host H] [--path /scep] [--count N] [--concurrency C]\n"
               "  (--challenge S | --challenges-file F) [--key-pool K] [--cn-prefix P] [--server-pid PID]\n"
               "  [--cipher aes256|aes128|des3] [--max-seconds S]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto number = [&]() -> long {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 0) usage(a + ": not a number: " + v);
      return n;
    };
    if (a == "--host") o.host = value();
    else if (a == "--port") o.port = static_cast<int>(number());
    else if (a == "--path") o.path = value();
    else if (a == "--count") o.count = static_cast<std::size_t>(number());
    else if (a == "--concurrency") o.concurrency = static_cast<std::size_t>(number());
    else if (a == "--challenge") o.challenge = value();
    else if (a == "--challenges-file") o.challenges_file = value();
    else if (a == "--key-pool") o.key_pool = static_cast<std::size_t>(number());
    else if (a == "--cn-prefix") o.cn_prefix = value();
    else if (a == "--server-pid") o.server_pid = static_cast<int>(number());
    else if (a == "--cipher") o.cipher = value();
    else if (a == "--max-seconds") o.max_seconds = static_cast<double>(number());
    else usage("unknown argument " + a);
  }
  if (o.port <= 0 || o.port > 65535) usage("--port is required");
  if (o.count == 0 || o.concurrency == 0 || o.key_pool == 0) usage("--count, --concurrency and --key-pool must be > 0");
  if (o.challenge.empty() == o.challenges_file.empty()) usage("exactly one of --challenge and --challenges-file");
  return o;
}

// /proc/PID/stat fields 14 and 15 (utime, stime) in clock ticks; the command name in
// field 2 may hold spaces, so counting starts after its closing parenthesis.
struct ProcessCpu {
  bool known = false;          // false: no --server-pid, or /proc could not be read
  double user = 0, system = 0;
  double total() const { return user + system; }
};

ProcessCpu process_cpu_seconds(int pid) {
  if (pid <= 0) return {};
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  const auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int f = 3; f <= 15 && (rest >> field); ++f) {
    if (f == 14) utime = std::stoull(field);
    if (f == 15) stime = std::stoull(field);
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return ProcessCpu{true, static_cast<double>(utime) / tick, static_cast<double>(stime) / tick};
}

double self_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

const EVP_CIPHER* cipher_named(const std::string& name) {
  if (name == "aes256") return EVP_aes_256_cbc();
  if (name == "aes128") return EVP_aes_128_cbc();
  if (name == "des3") return EVP_des_ede3_cbc();
  usage("unknown --cipher " + name);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  pca::check(RAND_bytes(raw.data(), static_cast<int>(raw.size())), "RAND_bytes");
  return pca::to_hex(raw);
}

// The GetCACert answer (RFC 8894 §4.2.1.2): a degenerate PKCS#7, or one DER certificate.
std::vector<pca::X509Ptr> get_ca_certs(const portcullis::app::HttpClientOptions& http, const std::string& path) {
  const auto r = portcullis::app::http_request(http, "GET", path + "?operation=GetCACert");
  if (r.status != 200) throw std::runtime_error("GetCACert: HTTP " + std::to_string(r.status));
  std::vector<pca::X509Ptr> out;
  const auto* p = reinterpret_cast<const unsigned char*>(r.body.data());
  if (pca::Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(r.body.size()))); p7 && PKCS7_type_is_signed(p7.get())) {
    STACK_OF(X509)* certs = p7->d.sign->cert;
    for (int i = 0; i < sk_X509_num(certs); ++i) {
      X509* c = sk_X509_value(certs, i);
      X509_up_ref(c);
      out.emplace_back(c);
    }
  } else {
    p = reinterpret_cast<const unsigned char*>(r.body.data());
    if (X509* c = d2i_X509(nullptr, &p, static_cast<long>(r.body.size()))) out.emplace_back(c);
  }
  if (out.empty()) throw std::runtime_error("GetCACert: no certificate in the answer");
  return out;
}

const X509* pick_recipient(const std::vector<pca::X509Ptr>& certs) {
  for (const auto& c : certs)
    if (EVP_PKEY_get_base_id(X509_get0_pubkey(c.get())) == EVP_PKEY_RSA && X509_check_ca(c.get()) == 0) return c.get();
  for (const auto& c : certs)
    if (EVP_PKEY_get_base_id(X509_get0_pubkey(c.get())) == EVP_PKEY_RSA) return c.get();
  throw std::runtime_error("GetCACert has no RSA certificate to encrypt to");
}

struct Prepared {
  std::string transaction_id;
  std::string cn;
  const EVP_PKEY* key = nullptr;   // from the pool
  pca::X509Ptr signer;
  pca::Bytes message;
  std::string reply;
  int http_status = 0;
  std::string error;
};

// `reply` must be a CertRep SUCCESS for `p`, signed by one of `ca_certs`, carrying a
// certificate for p's key and CN. Returns the serial (hex) or throws with the reason.
std::string check_reply(const Prepared& p, const std::vector<pca::X509Ptr>& ca_certs) {
  if (p.http_status != 200) throw std::runtime_error("HTTP " + std::to_string(p.http_status) + " " + p.error);
  const pca::Bytes der(p.reply.begin(), p.reply.end());
  std::string last_error = "no GetCACert certificate verifies the reply";
  for (const auto& signer : ca_certs) {
    try {
      const st::Reply r = st::open_reply(der, signer.get(), p.signer.get(), const_cast<EVP_PKEY*>(p.key));
      if (r.message_type != "3") throw std::runtime_error("messageType " + r.message_type);
      if (r.transaction_id != p.transaction_id) throw std::runtime_error("transactionID mismatch");
      if (r.pki_status != "0") throw std::runtime_error("pkiStatus " + r.pki_status + " failInfo " + r.fail_info);
      if (r.certificates.empty()) throw std::runtime_error("SUCCESS without a certificate");
      X509* cert = r.certificates.front().get();
      if (EVP_PKEY_eq(X509_get0_pubkey(cert), p.key) != 1) throw std::runtime_error("certificate is for another key");
      const X509_NAME* subject = X509_get_subject_name(cert);
      char cn[256] = {0};
      X509_NAME_get_text_by_NID(const_cast<X509_NAME*>(subject), NID_commonName, cn, sizeof cn);
      if (p.cn != cn) throw std::runtime_error(std::string("certificate CN ") + cn);
      return pca::serial_hex(cert);
    } catch (const std::exception& e) {
      ERR_clear_error();
      last_error = e.what();
      if (last_error.find("reply signature") == std::string::npos) break;   // verified, but wrong content
    }
  }
  throw std::runtime_error(last_error);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  // Legacy provider (single DES) next to the default one: a server may answer with DES.
  const pca::OsslProviderPtr dflt(OSSL_PROVIDER_load(nullptr, "default"));
  const pca::OsslProviderPtr legacy(OSSL_PROVIDER_load(nullptr, "legacy"));
  ERR_clear_error();

  portcullis::app::HttpClientOptions http;
  http.host = o.host;
  http.port = static_cast<std::uint16_t>(o.port);
  const auto ca_certs = get_ca_certs(http, o.path);
  const X509* recipient = pick_recipient(ca_certs);

  std::vector<std::string> challenges;
  if (!o.challenges_file.empty()) {
    std::ifstream in(o.challenges_file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) challenges.push_back(line);
    if (challenges.size() < o.count) usage("--challenges-file has fewer challenges than --count");
  }

  // Phase 1: key pool and prepared requests.
  const auto prep_start = Clock::now();
  std::vector<pca::EvpPkeyPtr> keys;
  for (std::size_t i = 0; i < o.key_pool; ++i) keys.push_back(st::rsa_key(2048));
  std::vector<Prepared> work(o.count);
  st::RequestOptions ro;
  ro.cipher = cipher_named(o.cipher);
  const std::string run_tag = random_hex(4);
  for (std::size_t i = 0; i < o.count; ++i) {
    Prepared& p = work[i];
    EVP_PKEY* key = keys[i % keys.size()].get();
    p.key = key;
    p.cn = o.cn_prefix + "-" + run_tag + "-" + std::to_string(i);
    p.transaction_id = random_hex(16);
    p.signer = st::self_signed(key, p.cn);
    ro.transaction_id = p.transaction_id;
    p.message = st::make_request(st::make_csr(key, p.cn, challenges.empty() ? o.challenge : challenges[i]),
                                 p.signer.get(), key, recipient, ro);
  }
  const double prep_seconds = std::chrono::duration<double>(Clock::now() - prep_start).count();

  // Phase 2: timed.
  const std::string target = o.path + "?operation=PKIOperation";
  const portcullis::app::HttpHeaders headers{{"Content-Type", "application/x-pki-message"}};
  std::atomic<std::size_t> next{0};
  const auto deadline = Clock::now() + std::chrono::duration<double>(o.max_seconds);
  const double client_cpu0 = self_cpu_seconds();
  const ProcessCpu server_cpu0 = process_cpu_seconds(o.server_pid);
  const auto t0 = Clock::now();
  // For a driver that measures something else during the burst
  // (run_radius_under_scep.py): the POSTs start now.
  std::cout << "TIMED_PHASE_START" << std::endl;
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < o.concurrency; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i; (i = next.fetch_add(1)) < work.size() && Clock::now() < deadline;) {
        Prepared& p = work[i];
        try {
          auto r = portcullis::app::http_request(http, "POST", target, headers,
                                                 std::string(p.message.begin(), p.message.end()));
          p.http_status = r.status;
          p.reply = std::move(r.body);
        } catch (const std::exception& e) {
          p.error = e.what();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const ProcessCpu server_cpu1 = process_cpu_seconds(o.server_pid);
  const double client_cpu = self_cpu_seconds() - client_cpu0;

  // Phase 3: every reply checked.
  // `issued`: replies carrying a valid certificate for their request, the server's work
  // and the denominator of the CPU figure; `ok`: those whose serial is also unique.
  std::size_t ok = 0, issued = 0, sent = 0;
  std::map<std::string, std::size_t> failures;
  std::set<std::string> serials;
  for (const Prepared& p : work) {
    if (p.http_status == 0 && p.error.empty()) continue;   // not sent before --max-seconds
    ++sent;
    try {
      const std::string serial = check_reply(p, ca_certs);
      ++issued;
      if (!serials.insert(serial).second) throw std::runtime_error("duplicate serial");
      ++ok;
    } catch (const std::exception& e) {
      ++failures[std::string(e.what()).substr(0, 120)];
    }
  }
  std::ostringstream out;
  out << "RESULT {\"count\":" << o.count << ",\"sent\":" << sent << ",\"issued\":" << issued << ",\"ok\":" << ok
      << ",\"failed\":" << (o.count - ok) << ",\"unique_serials\":" << serials.size() << ",\"wall_s\":" << wall
      << ",\"per_s\":" << (wall > 0 ? static_cast<double>(issued) / wall : 0) << ",\"client_cpu_s\":" << client_cpu
      << ",\"prepare_s\":" << prep_seconds;
  if (server_cpu0.known && server_cpu1.known) {
    const double cpu = server_cpu1.total() - server_cpu0.total();
    out << ",\"server_user_s\":" << (server_cpu1.user - server_cpu0.user)
        << ",\"server_system_s\":" << (server_cpu1.system - server_cpu0.system);
    out << ",\"server_cpu_s\":" << cpu << ",\"server_cpu_ms_per_enrollment\":"
        << (issued ? cpu * 1000.0 / static_cast<double>(issued) : 0);
  }
  out << ",\"failures\":{";
  bool first = true;
  for (const auto& [why, n] : failures) {
    out << (first ? "" : ",") << "\"" << json_escape(why) << "\":" << n;
    first = false;
  }
  out << "}}";
  std::cout << out.str() << std::endl;
  return ok == o.count ? 0 : 1;
}
