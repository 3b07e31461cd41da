#pragma once
// The tests' one launcher of helper programs: stdout (optionally with stderr) to a file, optionally
// a pipe to stdin, a start-up condition polled until a deadline (the child exiting first is an
// error), SIGTERM (then SIGKILL) and reaping in the destructor. The test
// servers (kube-testserver, rekor-stub) announce themselves on stdout's first line.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace chainsd::test_support {

class child_process {
 public:
  struct options {
    bool merge_stderr = false;  // stderr to the same file as stdout
    bool stdin_pipe = false;    // write_line() feeds the child's stdin
  };

  // Starts args[0] with `args`, stdout written to `stdout_path`. `name` names it in errors.
  child_process(std::string name, std::vector<std::string> args, std::filesystem::path stdout_path)
      : child_process(std::move(name), std::move(args), std::move(stdout_path), options{}) {}
  child_process(std::string name, std::vector<std::string> args, std::filesystem::path stdout_path, options o)
      : name_(std::move(name)), stdout_(std::move(stdout_path)) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int in[2] = {-1, -1};
    if (o.stdin_pipe && ::pipe(in) != 0) throw std::runtime_error("cannot make a pipe for " + name_);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, stdout_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o.merge_stderr) posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (o.stdin_pipe) {
      posix_spawn_file_actions_adddup2(&fa, in[0], 0);
      posix_spawn_file_actions_addclose(&fa, in[0]);
      posix_spawn_file_actions_addclose(&fa, in[1]);
    }
    int rc = posix_spawn(&pid_, args[0].c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (o.stdin_pipe) {
      ::close(in[0]);
      stdin_ = in[1];
    }
    if (rc != 0) throw std::runtime_error("cannot start " + name_);
  }
  // SIGTERM; SIGKILL when the child has not exited 5 s later.
  ~child_process() {
    if (stdin_ >= 0) ::close(stdin_);
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // Polls `ready` (given the stdout so far) every 20 ms until it returns true, within `limit`.
  void wait_until(const std::function<bool(const std::string& out)>& ready, std::chrono::seconds limit,
                  const std::string& what) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(stdout_);
      std::string out{std::istreambuf_iterator<char>(in), {}};
      if (ready(out)) return;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error(name_ + " exited during start-up");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error(name_ + " did not " + what + " within " + std::to_string(limit.count()) + " s");
  }

  // What the child wrote to stdout so far.
  std::string output() const {
    std::ifstream in(stdout_);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  // One line to the child's stdin (options::stdin_pipe).
  void write_line(const std::string& line) {
    std::string l = line + "\n";
    if (stdin_ < 0 || ::write(stdin_, l.data(), l.size()) != static_cast<ssize_t>(l.size()))
      throw std::runtime_error("cannot write to " + name_ + "'s stdin");
  }

  // The first complete line of stdout, or "" while there is none.
  static std::string first_line(const std::string& out) {
    auto nl = out.find('\n');
    return nl == std::string::npos ? std::string() : out.substr(0, nl);
  }

 private:
  std::string name_;
  std::filesystem::path stdout_;
  pid_t pid_ = -1;
  int stdin_ = -1;
};

}  // namespace chainsd::test_support

namespace test_support = chainsd::test_support;
