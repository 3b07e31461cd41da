// chainsd: flags and environment → app. Sub-commands: (none)/run, payload, plugins, config, verify, version.
// Exit codes everywhere: 0 done (and for --help), 1 the work failed, 2 bad usage.
#include "app/commands.hpp"

#include <cstdio>
#include <string>
#include <vector>

namespace {

constexpr const char* usage_text =
    "usage: chainsd [COMMAND] [flags]\n"
    "commands:\n"
    "  run       run the controller (the default when no command is given)\n"
    "  payload   print the provenance chainsd would sign for a run file, like `tkn chain payload`\n"
    "  plugins   list the plugins that load, and why others do not\n"
    "  config    config check: validate a chains-config ConfigMap as the controller would\n"
    "  verify    verify the signatures (and Rekor entry) Chains left on runs, with a public key\n"
    "  version   print the version\n"
    "  help      this text; `chainsd help COMMAND` is `chainsd COMMAND --help`\n"
    "flags:\n"
    "  -h, --help     show help (also after any command: chainsd payload --help)\n"
    "  --version      print the version\n";

int version(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    std::puts("usage: chainsd version\n  Prints chainsd's version.");
    return 0;
  }
  if (!args.empty()) {
    std::fprintf(stderr, "chainsd version: unexpected argument \"%s\"\nusage: chainsd version\n", args[0].c_str());
    return 2;
  }
  std::puts("chainsd " CHAINSD_VERSION);
  return 0;
}

int dispatch(const std::string& cmd, const std::vector<std::string>& args) {
  if (cmd == "run") return chainsd::app::run_controller(args);
  if (cmd == "payload") return chainsd::app::run_payload(args);
  if (cmd == "plugins") return chainsd::app::run_plugins(args);
  if (cmd == "config") return chainsd::app::run_config(args);
  if (cmd == "verify") return chainsd::app::run_verify(args);
  if (cmd == "version") return version(args);
  std::fprintf(stderr, "chainsd: unknown command \"%s\"\n%s", cmd.c_str(), usage_text);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return dispatch("run", args);
  const std::string first = args[0];
  if (first == "-h" || first == "--help") {
    std::fputs(usage_text, stdout);
    return 0;
  }
  if (first == "--version") return version({args.begin() + 1, args.end()});
  if (first == "help") {
    if (args.size() == 1) {
      std::fputs(usage_text, stdout);
      return 0;
    }
    std::vector<std::string> rest(args.begin() + 2, args.end());
    rest.insert(rest.begin(), "--help");
    return args[1] == "config" ? dispatch("config", {"check", "--help"}) : dispatch(args[1], rest);
  }
  if (!first.empty() && first[0] == '-') return dispatch("run", args);  // flags of the controller
  return dispatch(first, {args.begin() + 1, args.end()});
}
