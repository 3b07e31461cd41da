// The chainsd command line (issue 19 item 8): -h/--help on every sub-command (exit 0, usage on
// stdout), `chainsd --help` lists the sub-commands, --version, exit 2 for usage errors, and
// `chainsd plugins` saying where it looked and why nothing loaded.
#include "../../support/run_chainsd.hpp"

using chainsd_test::run_chainsd;
using chainsd_test::scratch;
namespace fs = std::filesystem;

TEST_CASE("chainsd --help lists every sub-command") {
  for (auto args : {"--help", "-h", "help"}) {
    INFO(args);
    auto o = run_chainsd(args);
    CHECK(o.code == 0);
    CHECK(o.err.empty());
    CHECK_THAT(o.out, Catch::StartsWith("usage: chainsd [COMMAND] [flags]"));
    for (auto cmd : {"\n  run ", "\n  payload ", "\n  plugins ", "\n  config ", "\n  verify ", "\n  version ", "--version"})
      CHECK_THAT(o.out, Catch::Contains(cmd));
  }
}

TEST_CASE("-h and --help work on every sub-command, exit 0, usage on stdout") {
  const std::pair<const char*, const char*> cmds[] = {
      {"run", "usage: chainsd [run] [flags]"},     {"payload", "usage: chainsd payload"},
      {"plugins", "usage: chainsd plugins"},       {"config", "usage: chainsd config check"},
      {"config check", "usage: chainsd config check"}, {"version", "usage: chainsd version"},
      {"verify", "usage: chainsd verify"}};
  for (const auto& [cmd, usage] : cmds) {
    for (auto flag : {"-h", "--help"}) {
      INFO(std::string(cmd) + " " + flag);
      auto o = run_chainsd(std::string(cmd) + " " + flag);
      CHECK(o.code == 0);
      CHECK_THAT(o.out, Catch::StartsWith(usage));
    }
    auto h = run_chainsd(std::string("help ") + cmd);
    INFO(std::string("help ") + cmd);
    CHECK(h.code == 0);
    CHECK_THAT(h.out, Catch::StartsWith(usage));
  }
  CHECK_THAT(run_chainsd("--kubeconfig x --help").out, Catch::StartsWith("usage: chainsd [run] [flags]"));
}

TEST_CASE("--version and version print the version") {
  for (auto args : {"--version", "version"}) {
    auto o = run_chainsd(args);
    CHECK(o.code == 0);
    CHECK_THAT(o.out, Catch::Matches("chainsd [0-9]+\\.[0-9]+\\.[0-9]+.*\n"));
  }
}

TEST_CASE("usage errors exit 2 with the problem on stderr") {
  for (auto args : {"bogus", "run --bogus", "run extra-arg", "--no-such-flag", "plugins --bogus", "plugins extra",
                    "payload --bogus", "payload", "config", "config check", "config check --bogus f", "version extra",
                    "run --max-in-flight", "verify", "verify --bogus", "verify run.json", "verify --key",
                    "verify --key k.pub", "verify --key k.pub a.json b.json", "verify --certificate-identity me run.json",
                    "verify --key k.pub --certificate-identity me --certificate-oidc-issuer i --ca-roots r run.json"}) {
    INFO(args);
    auto o = run_chainsd(args);
    CHECK(o.code == 2);
    CHECK(o.out.empty());
    CHECK_FALSE(o.err.empty());
  }
}

TEST_CASE("chainsd plugins with none found says where it looked and why") {
  auto o = run_chainsd("plugins --plugin-dir " + (scratch() / "absent").string());
  CHECK(o.code == 0);
  CHECK_THAT(o.out, Catch::Contains("plugin directory: " + (scratch() / "absent").string() + " (--plugin-dir)"));
  CHECK_THAT(o.out, Catch::Contains("no plugins found in " + (scratch() / "absent").string() +
                                    ": the directory does not exist; give the directory holding"));
  auto empty = scratch() / "empty-plugins";
  fs::create_directories(empty);
  CHECK_THAT(run_chainsd("plugins --plugin-dir " + empty.string()).out, Catch::Contains(": it is empty;"));
  chainsd_test::write("empty-plugins/README", "x");
  CHECK_THAT(run_chainsd("plugins --plugin-dir " + empty.string()).out,
             Catch::Contains(": it holds no *.so files (1 other entry);"));
  chainsd_test::write("empty-plugins/broken.so", "not an ELF file");
  auto broken = run_chainsd("plugins --plugin-dir " + empty.string());
  CHECK_THAT(broken.out, Catch::Contains("broken.so: "));
  CHECK_THAT(broken.out, Catch::Contains(": every candidate was rejected (see above);"));
  // Without --plugin-dir the default is used and how it was chosen is said.
  CHECK_THAT(run_chainsd("plugins").out, Catch::Contains("(the default: "));
}
