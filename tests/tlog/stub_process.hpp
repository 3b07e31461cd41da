#pragma once
// Starts tests/support/rekor-stub (python3 rekor_stub.py, path from $REKOR_STUB) on an ephemeral
// port for the client tests; terminated in the destructor.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace chainsd::tlog::test {

class stub_process {
 public:
  explicit stub_process(std::vector<std::string> extra = {}) {
    const char* script = std::getenv("REKOR_STUB");
    if (!script || !*script) throw std::runtime_error("REKOR_STUB is not set (run through meson test)");
    char tmpl[] = "/tmp/rekor-stub-test-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    auto out = dir_ / "stdout";
    key_path_ = dir_ / "log.pub";
    std::vector<std::string> args{"/usr/bin/python3", script, "--port", "0", "--public-key-out", key_path_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawn(&pid_, args[0].c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start rekor-stub");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(out);
      std::string word;
      int port = 0;
      if (in >> word >> word >> port && port > 0) {
        url_ = "http://127.0.0.1:" + std::to_string(port);
        std::ifstream k(key_path_);
        public_key_pem_.assign(std::istreambuf_iterator<char>(k), {});
        return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("rekor-stub exited during start-up");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("rekor-stub did not print its port within 20 s");
  }
  ~stub_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
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
  pid_t pid_ = -1;
};

}  // namespace chainsd::tlog::test
