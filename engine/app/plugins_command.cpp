// `chainsd plugins [--plugin-dir DIR]`: what the loader accepts and rejects, and why. With none
// accepted, says where it looked, how that place was chosen, and why nothing loaded.
#include "app/commands.hpp"
#include "app/flags.hpp"
#include "plugin_host/registry.hpp"
#include "runtime/log.hpp"

#include <cstdio>
#include <filesystem>

namespace chainsd::app {
namespace {

constexpr const char* usage_text =
    "usage: chainsd plugins [--plugin-dir DIR]\n"
    "  Lists the signer and storage plugins (*.so) chainsd run would load, and why others are rejected.\n"
    "flags:\n";

// Why a scan found nothing to load.
std::string why_none(const std::string& dir, const plugin_host::scan_result& r) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return "the directory does not exist";
  if (!fs::is_directory(dir, ec)) return "it is not a directory";
  if (!r.rejected.empty()) return "every candidate was rejected (see above)";
  std::size_t entries = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) ++entries;
  if (ec) return "it cannot be read: " + ec.message();
  return entries ? "it holds no *.so files (" + std::to_string(entries) + " other entr" + (entries == 1 ? "y" : "ies") + ")"
                 : "it is empty";
}

}  // namespace

int run_plugins(const args& a) {
  flags f({{"plugin-dir", "directory of signer and storage plugins", ""}, {"help", "show this help", "", true}});
  try {
    f.parse(a);
    if (!f.positional().empty()) throw flag_error("unexpected argument \"" + f.positional()[0] + "\"");
  } catch (const flag_error& e) {
    std::fprintf(stderr, "chainsd plugins: %s\n%s%s", e.what(), usage_text, f.usage().c_str());
    return 2;
  }
  if (f.get_bool("help")) {
    std::printf("%s%s", usage_text, f.usage().c_str());
    return 0;
  }
  log::set_level(log::level::error);  // the table below says it all
  const bool given = f.was_set("plugin-dir");
  auto dir = given ? f.get("plugin-dir") : default_plugin_dir();
  auto r = plugin_host::scan_plugins(dir);
  std::printf("plugin directory: %s (%s)\n", dir.c_str(), given ? "--plugin-dir" : default_plugin_dir_origin().c_str());
  std::printf("accepted:\n");
  if (r.accepted.empty()) std::printf("  (none)\n");
  for (const auto& p : r.accepted)
    std::printf("  %-8s %-12s %-10s %s\n", p.kind.c_str(), p.name.c_str(), p.version.c_str(), p.path.c_str());
  std::printf("rejected:\n");
  if (r.rejected.empty()) std::printf("  (none)\n");
  for (const auto& p : r.rejected) std::printf("  %s: %s\n", p.path.c_str(), p.reason.c_str());
  if (r.accepted.empty())
    std::printf("no plugins found in %s: %s; give the directory holding signer-*.so and storage-*.so with "
                "--plugin-dir DIR (chainsd run and chainsd config check take the same flag)\n",
                dir.c_str(), why_none(dir, r).c_str());
  return 0;
}

}  // namespace chainsd::app
