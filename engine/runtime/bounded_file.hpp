#pragma once
// Reads a file named by configuration, bounded: regular files only (a device such as /dev/zero,
// a fifo or a directory is refused before anything is read; opening never blocks on a fifo), at
// most `max_bytes` (a larger file is refused, never truncated). Symlinks are followed, as a
// Kubernetes volume's `..data` links are. Blocking but bounded: call it at startup, when a
// config snapshot is built, or off the loop.

#include <cstddef>
#include <stdexcept>
#include <string>

namespace chainsd::runtime {

// Size caps per kind of file, in one place so the READMEs and errors agree.
inline constexpr std::size_t pem_file_limit = 64 * 1024;        // a PEM key or certificate (chain)
inline constexpr std::size_t token_file_limit = 64 * 1024;      // an OIDC token
inline constexpr std::size_t json_config_limit = 1024 * 1024;   // a docker config, a trust root

class file_error : public std::runtime_error {
 public:
  enum class kind { missing, refused };
  file_error(kind k, const std::string& what) : std::runtime_error(what), kind_(k) {}
  kind which() const { return kind_; }

 private:
  kind kind_;
};

// Throws file_error whose message names `config_key` (e.g. "transparency.publickey") and `path`:
// missing (ENOENT/ENOTDIR) or refused (not a regular file, too big, unreadable).
std::string read_bounded_file(const std::string& path, std::size_t max_bytes, const std::string& config_key);

}  // namespace chainsd::runtime
