#pragma once
// The project's plugins, copied into a private 0755 directory and loaded through the real
// loader once per test binary (paths come from the environment set by meson).

#include "plugin_host/registry.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace test_support {

inline const chainsd::plugin_host::registry& installed_plugins() {
  namespace fs = std::filesystem;
  static fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("chainsd-plugins-" + std::to_string(std::random_device{}()));
    fs::create_directories(d);
    ::chmod(d.c_str(), 0755);
    return d;
  }();
  static chainsd::plugin_host::registry reg = [] {
    for (const char* var : {"SIGNER_X509_SO", "STORAGE_TEKTON_SO"}) {
      const char* so = std::getenv(var);
      if (!so) throw std::runtime_error(std::string(var) + " is not set (run through meson test)");
      auto dst = dir / fs::path(so).filename();
      fs::copy_file(so, dst, fs::copy_options::overwrite_existing);
      ::chmod(dst.c_str(), 0755);
    }
    return chainsd::plugin_host::registry(chainsd::plugin_host::scan_plugins(dir));
  }();
  static struct cleanup {
    ~cleanup() { std::error_code ec; fs::remove_all(dir, ec); }
  } c;
  return reg;
}

}  // namespace test_support
