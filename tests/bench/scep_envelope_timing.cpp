// Time to answer a PKIOperation whose pkcsPKIEnvelope cannot be opened, by fault
// (tests/unit/scep/envelope_forgery.hpp): the right key over content that is no
// messageData, a broken PKCS#1 v1.5 block, a CEK of the wrong length. A padding oracle
// (Bleichenbacher; "Marvin", CVE-2023-50782 and kin) shows as a difference between the
// second and the others. Prints medians; asserts nothing (the unit tests assert the answers).
//
//   bench_scep_envelope_timing [requests per fault, default 2000]
//
// In process, on one thread: parse_request (signature check, key transport, content
// decryption) and Enrollment::handle (that plus the policy and the signed CertRep). The
// three kinds take turns, in a rotating order, so drift hits them alike.
#include "ca/authority.hpp"
#include "ca/identity_index.hpp"
#include "ca/issuer.hpp"
#include "ca/ledger/ledger.hpp"
#include "ca/profile.hpp"
#include "ca/registry.hpp"
#include "scep/enrollment.hpp"
#include "tests/unit/scep/envelope_forgery.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace portcullis;
using scep::testing::EnvelopeFault;
using Clock = std::chrono::steady_clock;

constexpr std::array kFaults{EnvelopeFault::wrong_content, EnvelopeFault::bad_padding, EnvelopeFault::wrong_key_length};
constexpr std::size_t kVariants = 16;   // distinct messages per fault, used in turn

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}
double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

void report(const char* what, const std::array<std::vector<double>, kFaults.size()>& samples) {
  std::printf("%s\n", what);
  const double base = median(samples[0]);
  for (std::size_t f = 0; f < kFaults.size(); ++f) {
    const double m = median(samples[f]);
    std::printf("  %-17s median %9.1f us  p10 %9.1f  p90 %9.1f  median - wrong-content %+7.1f us (%+.2f%%)\n",
                scep::testing::to_string(kFaults[f]), m, percentile(samples[f], 0.1), percentile(samples[f], 0.9),
                m - base, 100.0 * (m - base) / base);
  }
  // The oracle pair: a malformed block against a well-formed one (of the wrong length).
  std::printf("  bad-padding - wrong-key-length: %+.1f us\n", median(samples[1]) - median(samples[2]));
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t requests = argc > 1 ? static_cast<std::size_t>(std::strtoul(argv[1], nullptr, 10)) : 2000;
  spdlog::set_level(spdlog::level::off);   // refusals log; the bench measures, not the logger

  char pattern[] = "/tmp/portcullis-envelope-bench-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  const std::string dir = pattern;
  ca::BootstrapOptions o;
  o.ca_dir = dir + "/ca";
  std::filesystem::create_directories(o.ca_dir);
  o.crl_url = "http://pki.test/crl";
  o.ocsp_url = "http://pki.test/ocsp";
  {
    auto ledger = ca::open_sqlite_ledger(dir + "/ledger.db");
    ca::IdentityIndex index;
    ca::Registry registry(*ledger, index);
    ca::bootstrap_new_ca(o, registry);
    const ca::Authority authority = ca::Authority::load(ca::CaPaths{o.ca_dir});
    ca::Issuer issuer(authority, ca::default_profiles(), ca::IssuerUrls{o.crl_url, o.ocsp_url}, registry);
    scep::EnrollmentSettings settings;
    settings.static_challenge = "static-secret-123";
    scep::Enrollment enrollment(authority, issuer, registry, settings);

    const ca::EvpPkeyPtr key = scep::testing::rsa_key(2048);
    const ca::X509Ptr cert = scep::testing::self_signed(key.get(), "bench");
    const ca::Bytes csr = scep::testing::make_csr(key.get(), "bench", settings.static_challenge);
    std::array<std::vector<ca::Bytes>, kFaults.size()> messages;
    for (std::size_t f = 0; f < kFaults.size(); ++f) {
      for (std::size_t v = 0; v < kVariants; ++v) {
        scep::testing::RequestOptions ro;
        ro.transaction_id = "bench-" + std::to_string(f) + "-" + std::to_string(v);
        messages[f].push_back(
            scep::testing::forged_request(csr, cert.get(), key.get(), authority.ra(), kFaults[f], ro));
      }
    }

    std::array<std::vector<double>, kFaults.size()> parse_us, handle_us;
    const std::size_t warmup = 100;
    for (std::size_t i = 0; i < warmup + requests; ++i) {
      for (std::size_t k = 0; k < kFaults.size(); ++k) {
        const std::size_t f = (i + k) % kFaults.size();
        const ca::Bytes& message = messages[f][i % kVariants];
        const auto t0 = Clock::now();
        const scep::PkiRequest request = scep::parse_request(message, authority.ra(), authority.ra_key(), {});
        const auto t1 = Clock::now();
        const ca::Bytes answer = enrollment.handle(message);
        const auto t2 = Clock::now();
        if (!request.failure || answer.empty()) {
          std::fprintf(stderr, "a %s envelope was not refused\n", scep::testing::to_string(kFaults[f]));
          return 1;
        }
        if (i < warmup) continue;
        parse_us[f].push_back(micros(t1 - t0));
        handle_us[f].push_back(micros(t2 - t1));
      }
    }
    std::printf("%zu requests per fault, OpenSSL %s\n", requests, OpenSSL_version(OPENSSL_VERSION_STRING));
    report("parse_request (verify, key transport, content decryption):", parse_us);
    report("Enrollment::handle (the whole answer, CertRep signed):", handle_us);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
