// chainsd: flags and environment → app. Sub-commands: (none)/run, payload, plugins, version.
#include "app/commands.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {
void usage() {
  std::fputs(
      "usage: chainsd [run] [flags]       run the controller (see chainsd run --help)\n"
      "       chainsd payload --format FORMAT [--config KEY=VALUE]... [--child FILE]... RUN_FILE|-\n"
      "       chainsd plugins [--plugin-dir DIR]   list accepted and rejected plugins\n"
      "       chainsd config check [--plugin-dir DIR] FILE|-   validate a chains-config ConfigMap\n"
      "       chainsd version\n",
      stderr);
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string cmd = "run";
  if (!args.empty() && !args[0].empty() && args[0][0] != '-') {
    cmd = args[0];
    args.erase(args.begin());
  }
  if (cmd == "run") return chainsd::app::run_controller(args);
  if (cmd == "payload") return chainsd::app::run_payload(args);
  if (cmd == "plugins") return chainsd::app::run_plugins(args);
  if (cmd == "config") return chainsd::app::run_config(args);
  if (cmd == "version") {
    std::puts("chainsd " CHAINSD_VERSION);
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    usage();
    return 0;
  }
  std::fprintf(stderr, "chainsd: unknown command \"%s\"\n", cmd.c_str());
  usage();
  return 2;
}
