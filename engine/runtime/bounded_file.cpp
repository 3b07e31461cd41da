#include "runtime/bounded_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace chainsd::runtime {
namespace {

struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

std::string kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a fifo";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

std::string size_text(std::size_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

}  // namespace

std::string read_bounded_file(const std::string& path, std::size_t max_bytes, const std::string& config_key) {
  auto where = config_key + ": " + path;
  // O_NONBLOCK: opening a fifo with no writer would block; the type check below refuses it anyway.
  fd_closer f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (f.fd < 0) {
    int e = errno;
    auto k = (e == ENOENT || e == ENOTDIR) ? file_error::kind::missing : file_error::kind::refused;
    throw file_error(k, where + " cannot be read: " + std::strerror(e));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw file_error(file_error::kind::refused, where + " cannot be read: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw file_error(file_error::kind::refused, where + " is " + kind_of(st.st_mode) + ", not a regular file");
  auto limit_text = size_text(max_bytes);
  if (static_cast<unsigned long long>(st.st_size) > max_bytes)
    throw file_error(file_error::kind::refused, where + " is " + std::to_string(st.st_size) +
                                                    " bytes, more than the " + limit_text + " allowed");
  // Read to one byte past the cap: a file that grew after fstat is refused, never truncated.
  std::string out(static_cast<std::size_t>(st.st_size) + 1, '\0');
  std::size_t got = 0;
  for (;;) {
    if (got == out.size()) {
      if (out.size() > max_bytes)
        throw file_error(file_error::kind::refused, where + " grew past the " + limit_text + " allowed while read");
      out.resize(std::min(out.size() * 2, max_bytes + 1));
    }
    auto n = ::read(f.fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw file_error(file_error::kind::refused, where + " cannot be read: " + std::strerror(errno));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace chainsd::runtime
