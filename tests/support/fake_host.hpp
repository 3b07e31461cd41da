#pragma once
// A plugin host for plugin unit tests: secrets from a directory (read as the engine reads them),
// logs captured, no network.

#include "plugin_host/file_access.hpp"

#include <chainsd/plugin/host.hpp>

#include <boost/asio/io_context.hpp>

#include <string>
#include <vector>

namespace chainsd::test_support {

struct fake_host final : chainsd::plugin::host {
  boost::asio::io_context ctx;
  std::string dir;
  std::vector<std::string> logs;

  explicit fake_host(std::string secrets = "/nonexistent") : dir(std::move(secrets)) {}

  boost::asio::any_io_executor executor() override { return ctx.get_executor(); }
  void log(chainsd::plugin::log_level, std::string_view msg,
           std::initializer_list<chainsd::plugin::log_field> fields) override {
    std::string line(msg);
    for (const auto& [k, v] : fields) line += " " + std::string(k) + "=" + std::string(v);
    logs.push_back(line);
  }
  void count(std::string_view, std::string_view, std::initializer_list<std::pair<std::string_view, std::string_view>>,
             double) override {}
  boost::asio::awaitable<chainsd::plugin::result<chainsd::plugin::http_response>> http(chainsd::plugin::http_request) override {
    co_return chainsd::plugin::fail(chainsd::plugin::errc::permanent, "no http in unit tests");
  }
  boost::asio::awaitable<chainsd::plugin::result<chainsd::plugin::http_response>> kube(std::string, std::string,
                                                                                       std::string, std::string) override {
    co_return chainsd::plugin::fail(chainsd::plugin::errc::permanent, "no kube in unit tests");
  }
  chainsd::plugin::result<std::string> read_secret(std::string_view name) override {
    return chainsd::plugin_host::read_secret_file(dir, name);
  }
  chainsd::plugin::result<std::string> read_file(std::string_view path, std::size_t max_bytes,
                                                 std::string_view config_key) override {
    return chainsd::plugin_host::read_plugin_file(path, max_bytes, config_key);
  }
  std::string secrets_dir() override { return dir; }
};

}  // namespace chainsd::test_support

// The helpers of tests/support have one namespace, reachable as test_support:: also where
// `using namespace chainsd` is in effect.
namespace test_support = chainsd::test_support;
