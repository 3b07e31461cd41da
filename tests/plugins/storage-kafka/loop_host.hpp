#pragma once
// A plugin host for the kafka tests: like tests/support/fake_host.hpp (secrets from a directory,
// logs captured, no network), and it also counts calls made from any thread but the one that
// created it. librdkafka has threads of its own; the plugin must hand everything back to the loop.

#include <chainsd/plugin/host.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace kafka_test {

struct loop_host final : chainsd::plugin::host {
  boost::asio::io_context ctx;
  std::string dir;
  std::thread::id loop_thread = std::this_thread::get_id();
  std::atomic<int> off_loop_calls{0};
  std::mutex mu;  // only so that an off-loop call is counted instead of corrupting `logs`
  std::vector<std::string> logs;
  std::vector<std::string> counters;

  explicit loop_host(std::string secrets = "/nonexistent") : dir(std::move(secrets)) {}

  void check_thread() {
    if (std::this_thread::get_id() != loop_thread) ++off_loop_calls;
  }
  bool logged(const std::string& needle) {
    std::lock_guard lock(mu);
    for (const auto& l : logs)
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }

  boost::asio::any_io_executor executor() override { return ctx.get_executor(); }
  void log(chainsd::plugin::log_level, std::string_view msg,
           std::initializer_list<chainsd::plugin::log_field> fields) override {
    check_thread();
    std::string line(msg);
    for (const auto& [k, v] : fields) line += " " + std::string(k) + "=" + std::string(v);
    std::lock_guard lock(mu);
    logs.push_back(line);
  }
  void count(std::string_view name, std::string_view,
             std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double) override {
    check_thread();
    std::string c(name);
    for (const auto& [k, v] : labels) c += " " + std::string(k) + "=" + std::string(v);
    std::lock_guard lock(mu);
    counters.push_back(c);
  }
  boost::asio::awaitable<chainsd::plugin::result<chainsd::plugin::http_response>> http(chainsd::plugin::http_request) override {
    co_return chainsd::plugin::fail(chainsd::plugin::errc::permanent, "no http in kafka tests");
  }
  boost::asio::awaitable<chainsd::plugin::result<chainsd::plugin::http_response>> kube(std::string, std::string,
                                                                                       std::string, std::string) override {
    co_return chainsd::plugin::fail(chainsd::plugin::errc::permanent, "no kube in kafka tests");
  }
  chainsd::plugin::result<std::string> read_secret(std::string_view name) override {
    check_thread();
    std::ifstream in(dir + "/" + std::string(name), std::ios::binary);
    if (!in) return chainsd::plugin::fail(chainsd::plugin::errc::not_found, std::string(name) + " not found");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string secrets_dir() override { return dir; }
};

}  // namespace kafka_test
