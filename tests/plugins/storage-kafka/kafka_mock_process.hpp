#pragma once
// Starts tests/support/kafka-mock ($KAFKA_MOCK, set by meson) as a child process and reads the
// bootstrap servers from its first stdout line. Commands ("down 2", "up 2") go to its stdin.
// The process is terminated in the destructor.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace kafka_test {

class kafka_mock_process {
 public:
  explicit kafka_mock_process(std::vector<std::string> topics, int brokers = 3) {
    const char* bin = std::getenv("KAFKA_MOCK");
    if (!bin || !*bin) throw std::runtime_error("KAFKA_MOCK is not set (run through meson test)");
    std::vector<std::string> args{bin, "--brokers", std::to_string(brokers), "--exit-with-parent"};
    for (auto& t : topics) {
      args.push_back("--topic");
      args.push_back(t);
    }
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin, argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_ = ::fdopen(in[1], "w");
    from_ = ::fdopen(out[0], "r");
    bootstrap_ = read_line();
    if (bootstrap_.empty()) throw std::runtime_error("kafka-mock printed no bootstrap servers");
  }
  kafka_mock_process(const kafka_mock_process&) = delete;
  kafka_mock_process& operator=(const kafka_mock_process&) = delete;
  ~kafka_mock_process() {
    if (to_) std::fclose(to_);
    if (from_) std::fclose(from_);
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  const std::string& bootstrap_servers() const { return bootstrap_; }

  // "down 1" / "up 1" / "rtt 1 500"; returns the mock's answer ("ok" or "error: ...").
  std::string command(const std::string& cmd) {
    std::fputs((cmd + "\n").c_str(), to_);
    std::fflush(to_);
    return read_line();
  }

 private:
  std::string read_line() {
    std::string line;
    int c;
    while ((c = std::fgetc(from_)) != EOF && c != '\n') line += static_cast<char>(c);
    return line;
  }

  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
  std::string bootstrap_;
};

}  // namespace kafka_test
