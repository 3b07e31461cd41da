#pragma once
// A test that cannot run here is a skip, never a pass. Meson counts exit code 77 as SKIP, and
// scripts/count-results.py counts any skip under CI=true as a failure.
// - A whole binary whose checks need something absent: `const bool x = test_support::require(...)`
//   at namespace scope, so it exits 77 before Catch2 runs (one clear skip, not a pass per case).
// - One section that needs what a developer's machine may lack (root, a mount): skip_section(),
//   a warning locally and a failure under CI=true.

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace chainsd::test_support {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

// Prints "SKIP: why" and exits 77.
[[noreturn]] inline void skip(const std::string& why) {
  std::printf("SKIP: %s\n", why.c_str());
  std::fflush(stdout);
  std::_Exit(77);
}

// `ok`, or the binary is skipped naming `why`.
inline bool require(bool ok, const std::string& why) {
  if (!ok) skip(why);
  return true;
}

inline bool have_command(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// node on PATH and `module` installed in `tests_dir`/node_modules (tests/node_modules); the
// directory comes from the environment variable `dir_env` set by meson.
inline bool have_node_module(const char* dir_env, const std::string& module) {
  const char* dir = std::getenv(dir_env);
  return dir && *dir && have_command("node") &&
         std::filesystem::exists(std::filesystem::path(dir) / "node_modules" / module);
}

// The section cannot run on this machine: a warning, or a failure under CI=true.
#define TEST_SUPPORT_SKIP_SECTION(why)                                   \
  do {                                                                   \
    if (::test_support::in_ci()) FAIL("required under CI=true: " << why); \
    WARN(why << "; section skipped");                                    \
  } while (false)

}  // namespace chainsd::test_support

// The helpers of tests/support have one namespace, reachable as test_support:: also where
// `using namespace chainsd` is in effect.
namespace test_support = chainsd::test_support;
