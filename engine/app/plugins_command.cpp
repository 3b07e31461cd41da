// `chainsd plugins [--plugin-dir DIR]`: what the loader accepts and rejects, and why.
#include "app/commands.hpp"
#include "app/flags.hpp"
#include "plugin_host/registry.hpp"
#include "runtime/log.hpp"

#include <cstdio>

namespace chainsd::app {



int run_plugins(const args& a) {
  flags f({{"plugin-dir", "directory of signer and storage plugins", ""}, {"help", "show this help", "", true}});
  try {
    f.parse(a);
  } catch (const flag_error& e) {
    std::fprintf(stderr, "chainsd plugins: %s\n", e.what());
    return 2;
  }
  if (f.get_bool("help")) {
    std::printf("usage: chainsd plugins [--plugin-dir DIR]\n");
    return 0;
  }
  log::set_level(log::level::error);  // the table below says it all
  auto dir = f.was_set("plugin-dir") ? f.get("plugin-dir") : default_plugin_dir();
  auto r = plugin_host::scan_plugins(dir);
  std::printf("plugin directory: %s\n", dir.c_str());
  std::printf("accepted:\n");
  if (r.accepted.empty()) std::printf("  (none)\n");
  for (const auto& p : r.accepted)
    std::printf("  %-8s %-12s %-10s %s\n", p.kind.c_str(), p.name.c_str(), p.version.c_str(), p.path.c_str());
  std::printf("rejected:\n");
  if (r.rejected.empty()) std::printf("  (none)\n");
  for (const auto& p : r.rejected) std::printf("  %s: %s\n", p.path.c_str(), p.reason.c_str());
  return 0;
}

}  // namespace chainsd::app
