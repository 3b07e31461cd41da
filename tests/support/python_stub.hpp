#pragma once
// Starts one of the Python stand-ins of tests/support (rekor-stub, rekor-v2-stub, tsa-stub) on
// an ephemeral port, in its own temporary directory (for the files it writes: keys, chains),
// and waits for its "listening on PORT" line. Terminated (SIGTERM, reaped) in the destructor.

#include "child_process.hpp"
#include "temp_dir.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace chainsd::test_support {

class python_stub {
 public:
  // `script_env`: the environment variable holding the script's path (set by meson).
  python_stub(const std::string& script_env, std::vector<std::string> args) {
    const char* script = std::getenv(script_env.c_str());
    if (!script || !*script) throw std::runtime_error(script_env + " is not set (run through meson test)");
    dir_ = make_temp_dir("chainsd-stub-");
    std::vector<std::string> argv{"/usr/bin/python3", script, "--port", "0"};
    for (auto& a : args) {
      // "@name" stands for a file in the stand-in's directory.
      if (!a.empty() && a[0] == '@') a = (dir_ / a.substr(1)).string();
      argv.push_back(a);
    }
    proc_.emplace(script_env, std::move(argv), dir_ / "stdout");
    auto ready = [this](const std::string& out) {
      std::istringstream in(out);
      std::string word;
      int port = 0;
      if (!(in >> word >> word >> port) || port <= 0) return false;
      port_ = port;
      return true;
    };
    proc_->wait_until(ready, std::chrono::seconds(20), "print its port");
  }
  ~python_stub() {
    proc_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  python_stub(const python_stub&) = delete;
  python_stub& operator=(const python_stub&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }
  std::string read(const std::string& name) const {
    std::ifstream in(file(name));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  std::optional<child_process> proc_;
};

}  // namespace chainsd::test_support

namespace test_support = chainsd::test_support;
