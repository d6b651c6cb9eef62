// portcullis.toml (app/config): the TOML parser and every section's loader with its
// validation. ConfigError (file, line and key) is the only way out for a bad file. The
// loader reads a path, so the input goes through a memfd named by /proc/self/fd.
#include "app/config.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <string>

using namespace portcullis::app;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = ::memfd_create("portcullis-fuzz.toml", 0);
  if (fd < 0) __builtin_trap();
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) __builtin_trap();
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    (void)load_config(path);
  } catch (const ConfigError&) {
  }
  return 0;
}
