#pragma once
// A plugin host for the OCI storage tests: HTTP through a real chainsd::net::http_client (so TLS
// verification with a test CA is the engine's own), a scripted Kubernetes API (path → status and
// body) for service-account imagePullSecrets, logs captured. Also loads the built plugin through
// the real loader from a private 0755 directory.

#include "net/http_client.hpp"
#include "plugin_host/file_access.hpp"
#include "plugin_host/registry.hpp"
#include "load_plugin.hpp"

#include <chainsd/plugin/host.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace oci_test {

namespace plugin = chainsd::plugin;

struct oci_host final : plugin::host {
  boost::asio::io_context ctx;
  chainsd::net::http_client client;
  std::vector<std::string> logs;
  std::map<std::string, std::pair<unsigned, std::string>> kube_objects;  // GET path → (status, body)
  std::vector<std::string> kube_requests;
  std::vector<std::string> http_requests;  // "METHOD url" in order
  // When set, sees (and may change) every HTTP response: a registry that lies.
  std::function<void(const std::string& url, plugin::http_response&)> rewrite;

  explicit oci_host(chainsd::net::client_options opts = {}) : client(ctx.get_executor(), std::move(opts)) {}

  boost::asio::any_io_executor executor() override { return ctx.get_executor(); }
  void log(plugin::log_level, std::string_view msg, std::initializer_list<plugin::log_field> fields) override {
    std::string line(msg);
    for (const auto& [k, v] : fields) line += " " + std::string(k) + "=" + std::string(v);
    logs.push_back(line);
  }
  void count(std::string_view, std::string_view, std::initializer_list<std::pair<std::string_view, std::string_view>>,
             double) override {}
  boost::asio::awaitable<plugin::result<plugin::http_response>> http(plugin::http_request req) override {
    http_requests.push_back(req.method + " " + req.url);
    chainsd::net::request r;
    r.method = std::move(req.method);
    r.url = std::move(req.url);
    r.headers = std::move(req.headers);
    r.body = std::move(req.body);
    r.timeout = req.timeout;
    try {
      const std::string url = r.url;
      auto resp = co_await client.send(std::move(r));
      plugin::http_response out{resp.status, std::move(resp.headers), std::move(resp.body)};
      if (rewrite) rewrite(url, out);
      co_return out;
    } catch (const chainsd::net::http_error& e) {
      co_return plugin::fail(plugin::errc::retryable, e.what());
    }
  }
  boost::asio::awaitable<plugin::result<plugin::http_response>> kube(std::string method, std::string path, std::string,
                                                                     std::string) override {
    kube_requests.push_back(method + " " + path);
    auto it = kube_objects.find(path);
    if (it == kube_objects.end()) co_return plugin::http_response{404, {}, R"({"kind":"Status","code":404})"};
    co_return plugin::http_response{it->second.first, {}, it->second.second};
  }
  plugin::result<std::string> read_secret(std::string_view name) override {
    return plugin::fail(plugin::errc::not_found, std::string(name) + " not found");
  }
  std::string secrets_dir() override { return "/nonexistent"; }
  plugin::result<std::string> read_file(std::string_view path, std::size_t max_bytes,
                                        std::string_view config_key) override {
    return chainsd::plugin_host::read_plugin_file(path, max_bytes, config_key);
  }

  // Runs one awaitable to completion on this host's loop.
  template <class T>
  T run(boost::asio::awaitable<T> a) {
    auto fut = boost::asio::co_spawn(ctx, std::move(a), boost::asio::use_future);
    ctx.restart();
    ctx.run();
    return fut.get();
  }
};

// The storage-oci plugin (path from STORAGE_OCI_SO, set by meson) through the real loader.
inline const chainsd::plugin_host::registry& oci_plugin() { return test_support::plugin_from_env("STORAGE_OCI_SO"); }

}  // namespace oci_test
