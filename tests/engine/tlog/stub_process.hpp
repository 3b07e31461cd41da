#pragma once
// Starts tests/support/rekor-stub (python3 rekor_stub.py, path from $REKOR_STUB) on an ephemeral
// port for the client tests; terminated in the destructor.

#include "../../support/child_process.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace chainsd::tlog::test {

class stub_process {
 public:
  explicit stub_process(std::vector<std::string> extra = {}) {
    const char* script = std::getenv("REKOR_STUB");
    if (!script || !*script) throw std::runtime_error("REKOR_STUB is not set (run through meson test)");
    char tmpl[] = "/tmp/rekor-stub-test-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    key_path_ = dir_ / "log.pub";
    std::vector<std::string> args{"/usr/bin/python3", script, "--port", "0", "--public-key-out", key_path_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    proc_.emplace("rekor-stub", std::move(args), dir_ / "stdout");
    // "listening on <port>"
    auto ready = [this](const std::string& out) {
      std::istringstream in(out);
      std::string word;
      int port = 0;
      if (!(in >> word >> word >> port) || port <= 0) return false;
      url_ = "http://127.0.0.1:" + std::to_string(port);
      return true;
    };
    proc_->wait_until(ready, std::chrono::seconds(20), "print its port");
    std::ifstream k(key_path_);
    public_key_pem_.assign(std::istreambuf_iterator<char>(k), {});
  }
  ~stub_process() {
    proc_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  stub_process(const stub_process&) = delete;
  stub_process& operator=(const stub_process&) = delete;

  const std::string& url() const { return url_; }
  const std::string& public_key_pem() const { return public_key_pem_; }

 private:
  std::filesystem::path dir_, key_path_;
  std::string url_, public_key_pem_;
  std::optional<test_support::child_process> proc_;
};

}  // namespace chainsd::tlog::test
