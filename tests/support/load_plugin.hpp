#pragma once
// One built plugin (its path in the environment variable `var`, set by meson) copied into a
// private 0755 directory and loaded through the real loader, once per variable per test binary.

#include "plugin_host/registry.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace test_support {

inline const chainsd::plugin_host::registry& plugin_from_env(const std::string& var) {
  namespace fs = std::filesystem;
  static std::map<std::string, chainsd::plugin_host::registry> loaded;
  if (auto it = loaded.find(var); it != loaded.end()) return it->second;
  const char* so = std::getenv(var.c_str());
  if (!so) throw std::runtime_error(var + " is not set (run through meson test)");
  auto dir = fs::temp_directory_path() / ("chainsd-plugin-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  auto dst = dir / fs::path(so).filename();
  fs::copy_file(so, dst, fs::copy_options::overwrite_existing);
  ::chmod(dst.c_str(), 0755);
  auto& reg = loaded.emplace(var, chainsd::plugin_host::registry(chainsd::plugin_host::scan_plugins(dir))).first->second;
  static struct cleanup {
    std::vector<fs::path> dirs;
    ~cleanup() {
      std::error_code ec;
      for (const auto& d : dirs) fs::remove_all(d, ec);
    }
  } c;
  c.dirs.push_back(dir);
  return reg;
}

}  // namespace test_support
