#pragma once
// The tests' one temporary directory: fresh (mkdtemp), private (0700) unless `mode` widens it
// (0755 for plugin and secret directories the loader or a child process reads), removed with
// everything in it at scope exit.

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace chainsd::test_support {

// A new directory under $TMPDIR named `prefix` + 6 random characters; the caller removes it.
inline std::filesystem::path make_temp_dir(const std::string& prefix, mode_t mode = 0700) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  if (mode != 0700) ::chmod(tmpl.c_str(), mode);
  return tmpl;
}

class temp_dir {
 public:
  explicit temp_dir(const std::string& prefix = "chainsd-test-", mode_t mode = 0700) : path_(make_temp_dir(prefix, mode)) {}
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& rel, std::string_view text) const {
    auto p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace chainsd::test_support

namespace test_support = chainsd::test_support;
