// Where plugins are looked for when --plugin-dir is not given, and how that place was chosen.
#include "app/commands.hpp"

#include <filesystem>

namespace chainsd::app {
namespace {

namespace fs = std::filesystem;

// <prefix>/bin/chainsd → <prefix>/<libdir>/chainsd/plugins, when that directory exists.
std::string beside_binary() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  auto candidate = exe.parent_path().parent_path() / CHAINSD_LIBDIR / "chainsd" / "plugins";
  return fs::is_directory(candidate, ec) ? candidate.string() : std::string();
}

}  // namespace

std::string default_plugin_dir() {
  auto b = beside_binary();
  return b.empty() ? std::string(CHAINSD_PLUGIN_DIR) : b;
}

std::string default_plugin_dir_origin() {
  if (!beside_binary().empty()) return "the default: <prefix>/" CHAINSD_LIBDIR "/chainsd/plugins beside this binary";
  return "the default: the install path " CHAINSD_PLUGIN_DIR
         " (no <prefix>/" CHAINSD_LIBDIR "/chainsd/plugins beside this binary)";
}

}  // namespace chainsd::app
