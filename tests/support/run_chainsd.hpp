#pragma once
// Runs the real chainsd binary ($CHAINSD) with arguments, for tests of its sub-commands: exit
// code, stdout and stderr. Files the tests need go to a scratch directory of this process.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace chainsd_test {

struct outcome {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::filesystem::path scratch() {
  auto dir = std::filesystem::temp_directory_path() / ("chainsd-cli-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::filesystem::path write(const std::string& name, const std::string& text) {
  auto p = scratch() / name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// `args` is passed through the shell (quote paths with spaces yourself).
inline outcome run_chainsd(const std::string& args, const std::string& stdin_file = "") {
  const char* exe = std::getenv("CHAINSD");
  REQUIRE(exe);
  auto err = scratch() / "stderr";
  std::string cmd = std::string("'") + exe + "' " + args + " 2>'" + err.string() + "'";
  cmd += " <'" + (stdin_file.empty() ? std::string("/dev/null") : stdin_file) + "'";
  outcome o;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  int status = ::pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.err = slurp(err);
  return o;
}

}  // namespace chainsd_test
