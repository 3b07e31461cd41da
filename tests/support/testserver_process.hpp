#pragma once
// Starts tests/support/kube-testserver as a child process for integration tests: its binary comes
// from $KUBE_TESTSERVER (set by meson), it listens on an ephemeral port and writes a kubeconfig.
// The process is terminated in the destructor.

#include "temp_dir.hpp"

#include "child_process.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace chainsd::kube::test {

class testserver_process {
 public:
  explicit testserver_process(std::vector<std::string> extra_args = {}) {
    const char* bin = std::getenv("KUBE_TESTSERVER");
    if (!bin || !*bin) throw std::runtime_error("KUBE_TESTSERVER is not set (run through meson test)");
    kubeconfig_ = dir_.path() / "kubeconfig";
    // --exit-with-parent: a crashed test must not leave servers behind.
    std::vector<std::string> args{bin, "--listen", "127.0.0.1:0", "--kubeconfig-out", kubeconfig_.string(),
                                  "--exit-with-parent"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    proc_.emplace("kube-testserver", std::move(args), dir_.path() / "stdout");
    // The URL line, and the kubeconfig written before it.
    auto ready = [this](const std::string& out) {
      auto line = test_support::child_process::first_line(out);
      if (line.empty() || !std::filesystem::exists(kubeconfig_) || std::filesystem::file_size(kubeconfig_) == 0)
        return false;
      url_ = line;
      return true;
    };
    proc_->wait_until(ready, std::chrono::seconds(20), "print its URL");
  }
  testserver_process(const testserver_process&) = delete;
  testserver_process& operator=(const testserver_process&) = delete;

  const std::string& url() const { return url_; }
  const std::filesystem::path& kubeconfig() const { return kubeconfig_; }
  const test_support::temp_dir& dir() const { return dir_; }

 private:
  test_support::temp_dir dir_{"chainsd-kube-"};
  std::filesystem::path kubeconfig_;
  std::string url_;
  std::optional<test_support::child_process> proc_;  // after dir_: stopped before the dir goes
};

}  // namespace chainsd::kube::test
