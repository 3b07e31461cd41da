#pragma once
// The engine's implementation of plugin::host: the loop's executor, JSON logs tagged with the
// plugin, counters in /metrics, the pooled HTTP client, the Kubernetes client, the
// signing-secrets directory and raw TCP streams (made by the HTTP client, with its TLS setup).
//
// Ownership: outlives every plugin instance built with it (one per process).

#include "kube/client.hpp"
#include "net/http_client.hpp"

#include <chainsd/plugin/host.hpp>

#include <string>

namespace chainsd::plugin_host {

class host_services final : public plugin::host {
 public:
  // `kube` may be null (e.g. `chainsd payload` has no cluster).
  host_services(boost::asio::any_io_executor ex, net::http_client& http, kube::client* kube, std::string secrets_dir);

  boost::asio::any_io_executor executor() override { return ex_; }
  void log(plugin::log_level level, std::string_view msg, std::initializer_list<plugin::log_field> fields) override;
  void count(std::string_view name, std::string_view help,
             std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double by) override;
  boost::asio::awaitable<plugin::result<plugin::http_response>> http(plugin::http_request req) override;
  boost::asio::awaitable<plugin::result<plugin::http_response>> kube(std::string method, std::string path_and_query,
                                                                     std::string body, std::string content_type) override;
  plugin::result<std::string> read_secret(std::string_view file_name) override;
  plugin::result<std::string> read_file(std::string_view path, std::size_t max_bytes,
                                        std::string_view config_key) override;
  std::string secrets_dir() override { return secrets_dir_; }
  boost::asio::awaitable<plugin::result<std::unique_ptr<plugin::stream>>> connect(plugin::stream_options opts) override;

 private:
  boost::asio::any_io_executor ex_;
  net::http_client& http_;
  kube::client* kube_;
  std::string secrets_dir_;
};

}  // namespace chainsd::plugin_host
