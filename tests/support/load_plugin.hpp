#pragma once
// Built plugins (their paths in environment variables, set by meson) copied into a private 0755
// directory, as the loader wants it (owner, mode, no writable parent), and loaded through the
// real loader, once per set of variables per test binary. The directories are removed at exit.

#include "plugin_host/registry.hpp"
#include "temp_dir.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace chainsd::test_support {

// A fresh private directory holding a 0755 copy of each plugin named by `vars`.
inline std::filesystem::path private_plugin_dir(const std::vector<std::string>& vars) {
  namespace fs = std::filesystem;
  auto dir = make_temp_dir("chainsd-plugins-", 0755);
  for (const auto& var : vars) {
    const char* so = std::getenv(var.c_str());
    if (!so) throw std::runtime_error(var + " is not set (run through meson test)");
    auto dst = dir / fs::path(so).filename();
    fs::copy_file(so, dst, fs::copy_options::overwrite_existing);
    ::chmod(dst.c_str(), 0755);
  }
  static struct cleanup {
    std::vector<fs::path> dirs;
    ~cleanup() {
      std::error_code ec;
      for (const auto& d : dirs) fs::remove_all(d, ec);
    }
  } c;
  c.dirs.push_back(dir);
  return dir;
}

// The plugins named by `vars`, loaded from their private directory.
inline const chainsd::plugin_host::registry& plugins_from_env(const std::vector<std::string>& vars) {
  static std::map<std::vector<std::string>, chainsd::plugin_host::registry> loaded;
  if (auto it = loaded.find(vars); it != loaded.end()) return it->second;
  return loaded.emplace(vars, chainsd::plugin_host::registry(chainsd::plugin_host::scan_plugins(private_plugin_dir(vars))))
      .first->second;
}

inline const chainsd::plugin_host::registry& plugin_from_env(const std::string& var) { return plugins_from_env({var}); }

// signer-x509 and storage-tekton, the plugins of the default configuration.
inline const chainsd::plugin_host::registry& installed_plugins() {
  return plugins_from_env({"SIGNER_X509_SO", "STORAGE_TEKTON_SO"});
}

}  // namespace chainsd::test_support

// The helpers of tests/support have one namespace, reachable as test_support:: also where
// `using namespace chainsd` is in effect.
namespace test_support = chainsd::test_support;
