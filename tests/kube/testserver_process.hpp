#pragma once
// Starts tests/support/kube-testserver as a child process for integration tests: its binary comes
// from $KUBE_TESTSERVER (set by meson), it listens on an ephemeral port and writes a kubeconfig.
// The process is terminated in the destructor.

#include "temp_dir.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace chainsd::kube::test {

class testserver_process {
 public:
  explicit testserver_process(std::vector<std::string> extra_args = {}) {
    const char* bin = std::getenv("KUBE_TESTSERVER");
    if (!bin || !*bin) throw std::runtime_error("KUBE_TESTSERVER is not set (run through meson test)");
    kubeconfig_ = dir_.path() / "kubeconfig";
    auto out = dir_.path() / "stdout";
    // --exit-with-parent: a crashed test must not leave servers behind.
    std::vector<std::string> args{bin, "--listen", "127.0.0.1:0", "--kubeconfig-out", kubeconfig_.string(),
                                  "--exit-with-parent"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawn(&pid_, bin, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error(std::string("cannot start ") + bin);
    // Wait for the URL line and the kubeconfig.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(out);
      std::string line;
      if (std::getline(in, line) && !in.eof() && std::filesystem::exists(kubeconfig_) &&
          std::filesystem::file_size(kubeconfig_) > 0) {
        url_ = line;
        return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("kube-testserver exited during start-up");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("kube-testserver did not print its URL within 20 s");
  }
  ~testserver_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  testserver_process(const testserver_process&) = delete;
  testserver_process& operator=(const testserver_process&) = delete;

  const std::string& url() const { return url_; }
  const std::filesystem::path& kubeconfig() const { return kubeconfig_; }
  const temp_dir& dir() const { return dir_; }

 private:
  temp_dir dir_;
  std::filesystem::path kubeconfig_;
  std::string url_;
  pid_t pid_ = -1;
};

}  // namespace chainsd::kube::test
