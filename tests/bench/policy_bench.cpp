// Access policy cost: what one decision costs on the RADIUS accept path when
// the deciding rule is the last of N, each rule before it failing on its last condition
// (SSID, after the NAS group and the time window held), and what loading (validating and
// resolving) an N-rule file costs, with and without readers deciding at the same time.
//
//   build/tests/bench/bench_policy [iterations]
#include "policy/engine.hpp"
#include "radius/dictionary.hpp"
#include "radius/reply_resolver.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace portcullis;
using Clock = std::chrono::steady_clock;

namespace {

std::string rules_file(int n) {
  std::string t;
  for (int i = 0; i + 1 < n; ++i) {
    t += "[[rule]]\nname = \"r" + std::to_string(i) + "\"\nnas_group = [\"campus\"]\ntime = \"00:00-24:00\"\n"
         "ssid = [\"ssid-" + std::to_string(i) + "\"]\nvlan = " + std::to_string(i % 4000 + 2) +
         "\nreply = { \"Filter-Id\" = \"f" + std::to_string(i) + "\" }\n\n";
  }
  t += "[[rule]]\nname = \"staff-wifi\"\ndevice_groups = [\"staff\"]\nssid = [\"corp-wifi\"]\nvlan = 20\n"
       "reply = { \"Filter-Id\" = \"staff\", \"Aruba-User-Role\" = \"employee\" }\n";
  return t;
}

policy::AccessContext context() {
  policy::AccessContext c;
  c.device_name = "laptop-7";
  c.device_groups = {"staff"};
  c.profile = "device";
  c.subject = "CN=laptop-7";
  c.nas_name = "wlc-1";
  c.nas_groups = {"campus"};
  c.called_station_id = "00-11-22-33-44-55:corp-wifi";
  c.nas_port_type = 19;
  c.now = 1736245800;
  c.cert_not_after = c.now + 86400 * 100;
  return c;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 200000;
  policy::Engine engine(radius::dictionary_resolver(radius::Dictionary::load()));
  const policy::AccessContext ctx = context();
  std::printf("%6s %10s %14s %22s\n", "rules", "load_ms", "decide_ns", "decide_ns_reloading");
  for (int n : {1, 10, 100, 1000}) {
    const std::string text = rules_file(n);
    auto t0 = Clock::now();
    engine.load_text(text, "bench.toml");
    const double load_ms = ms_since(t0);
    const long iters = std::max<long>(1000, iterations / std::max(1, n / 10));

    t0 = Clock::now();
    std::size_t sink = 0;
    for (long i = 0; i < iters; ++i) sink += engine.decide(ctx).reply.size();
    const double ns = ms_since(t0) * 1e6 / static_cast<double>(iters);

    // The same while another thread reloads the file back to back (SIGHUP storms).
    std::atomic<bool> stop{false};
    std::atomic<long> reloads{0};
    std::thread reloader([&] {
      while (!stop.load()) {
        engine.load_text(text, "bench.toml");
        ++reloads;
      }
    });
    t0 = Clock::now();
    for (long i = 0; i < iters; ++i) sink += engine.decide(ctx).reply.size();
    const double ns_reloading = ms_since(t0) * 1e6 / static_cast<double>(iters);
    stop = true;
    reloader.join();
    if (sink == 0 || engine.decide(ctx).rule != "staff-wifi") {
      std::fprintf(stderr, "wrong decision\n");
      return 1;
    }
    std::printf("%6d %10.2f %14.0f %15.0f (%ld reloads)\n", n, load_ms, ns, ns_reloading, reloads.load());
  }
  return 0;
}
