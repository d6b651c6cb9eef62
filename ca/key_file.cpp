#include "ca/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace portcullis::ca {
namespace {

// Group and others: read, write and execute (OpenSSH refuses the same 077 mask).
constexpr mode_t kForeignAccess = S_IRWXG | S_IRWXO;

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

class OpenFile {
 public:
  explicit OpenFile(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)) {
    if (fd_ < 0) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  }
  ~OpenFile() { ::close(fd_); }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

void require_owner_only(const std::string& path, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(path + " is not a regular file");
  if ((st.st_mode & kForeignAccess) == 0) return;
  throw std::runtime_error("permissions " + octal_mode(st.st_mode) + " for the private key " + path +
                           " are too open: group and others must have no access to it. Fix with `chmod 600 " + path +
                           "` (and check that nobody copied or replaced it)");
}

std::string read_all(const std::string& path, int fd) {
  std::string data;
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n == 0) return data;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("error reading " + path + ": " + std::strerror(errno));
    }
    data.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace

std::string read_private_key_file(const std::string& path) {
  OpenFile file(path);
  struct stat st{};
  if (::fstat(file.fd(), &st) != 0) throw std::runtime_error("cannot stat " + path + ": " + std::strerror(errno));
  require_owner_only(path, st);
  return read_all(path, file.fd());
}

}  // namespace portcullis::ca
