#pragma once
// The tests' one plugin host (chainsd::plugin::host), configurable:
// - secrets from a directory, read as the engine reads them; logs and counters captured;
// - no network by default; with net::client_options, HTTP through a real net::http_client (TLS
//   verification with a test CA is the engine's own; `replayable` is passed on as the engine
//   does), every request recorded and `rewrite` seeing each response (a registry that lies);
// - Kubernetes API: refused by default; with `scripted_kube`, answered from `kube_objects`
//   (GET path → status, body; 404 otherwise) and recorded;
// - off-loop calls counted (a plugin with threads of its own must hand everything back to the
//   loop): log, count and read_secret from another thread than the creator's.

#include "net/http_client.hpp"
#include "plugin_host/file_access.hpp"

#include <chainsd/plugin/host.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace chainsd::test_support {

struct fake_host : chainsd::plugin::host {
  boost::asio::io_context ctx;
  std::string dir;
  std::unique_ptr<chainsd::net::http_client> client;  // null: no HTTP
  bool scripted_kube = false;
  std::map<std::string, std::pair<unsigned, std::string>> kube_objects;  // GET path → (status, body)
  std::vector<std::string> kube_requests;
  std::vector<std::string> http_requests;  // "METHOD url" in order
  std::function<void(const std::string& url, chainsd::plugin::http_response&)> rewrite;
  std::thread::id loop_thread = std::this_thread::get_id();
  std::atomic<int> off_loop_calls{0};
  std::mutex mu;  // only so that an off-loop call is counted instead of corrupting `logs`
  std::vector<std::string> logs;
  std::vector<std::string> counters;

  explicit fake_host(std::string secrets = "/nonexistent") : dir(std::move(secrets)) {}
  // With HTTP through a real client.
  fake_host(std::string secrets, chainsd::net::client_options opts)
      : dir(std::move(secrets)), client(std::make_unique<chainsd::net::http_client>(ctx.get_executor(), std::move(opts))) {}

  bool logged(const std::string& needle) {
    std::lock_guard lock(mu);
    for (const auto& l : logs)
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }

  // Runs one awaitable to completion on this host's loop.
  template <class T>
  T run(boost::asio::awaitable<T> a) {
    auto fut = boost::asio::co_spawn(ctx, std::move(a), boost::asio::use_future);
    ctx.restart();
    ctx.run();
    return fut.get();
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
  boost::asio::awaitable<chainsd::plugin::result<chainsd::plugin::http_response>> http(
      chainsd::plugin::http_request req) override {
    if (!client) co_return chainsd::plugin::fail(chainsd::plugin::errc::permanent, "no http in this test host");
    http_requests.push_back(req.method + " " + req.url);
    chainsd::net::request r;
    r.method = std::move(req.method);
    r.url = std::move(req.url);
    r.headers = std::move(req.headers);
    r.body = std::move(req.body);
    r.timeout = req.timeout;
    r.replayable = req.replayable;
    try {
      const std::string url = r.url;
      auto resp = co_await client->send(std::move(r));
      chainsd::plugin::http_response out{resp.status, std::move(resp.headers), std::move(resp.body)};
      if (rewrite) rewrite(url, out);
      co_return out;
    } catch (const chainsd::net::http_error& e) {
      co_return chainsd::plugin::fail(chainsd::plugin::errc::retryable, e.what());
    }
  }
  boost::asio::awaitable<chainsd::plugin::result<chainsd::plugin::http_response>> kube(std::string method, std::string path,
                                                                                       std::string, std::string) override {
    if (!scripted_kube) co_return chainsd::plugin::fail(chainsd::plugin::errc::permanent, "no kube in this test host");
    kube_requests.push_back(method + " " + path);
    auto it = kube_objects.find(path);
    if (it == kube_objects.end()) co_return chainsd::plugin::http_response{404, {}, R"({"kind":"Status","code":404})"};
    co_return chainsd::plugin::http_response{it->second.first, {}, it->second.second};
  }
  chainsd::plugin::result<std::string> read_secret(std::string_view name) override {
    check_thread();
    return chainsd::plugin_host::read_secret_file(dir, name);
  }
  chainsd::plugin::result<std::string> read_file(std::string_view path, std::size_t max_bytes,
                                                 std::string_view config_key) override {
    return chainsd::plugin_host::read_plugin_file(path, max_bytes, config_key);
  }
  std::string secrets_dir() override { return dir; }

 private:
  void check_thread() {
    if (std::this_thread::get_id() != loop_thread) ++off_loop_calls;
  }
};

}  // namespace chainsd::test_support

// The helpers of tests/support have one namespace, reachable as test_support:: also where
// `using namespace chainsd` is in effect.
namespace test_support = chainsd::test_support;
