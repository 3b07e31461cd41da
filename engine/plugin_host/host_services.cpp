#include "plugin_host/host_services.hpp"

#include "plugin_host/file_access.hpp"

#include "runtime/log.hpp"
#include "runtime/metrics.hpp"

#include <vector>

namespace chainsd::plugin_host {

host_services::host_services(boost::asio::any_io_executor ex, net::http_client& http, kube::client* kube,
                             std::string secrets_dir)
    : ex_(ex), http_(http), kube_(kube), secrets_dir_(std::move(secrets_dir)) {}

void host_services::log(plugin::log_level level, std::string_view msg, std::initializer_list<plugin::log_field> fields) {
  // Plugins name themselves in their messages; the level maps one to one.
  log::write(static_cast<log::level>(level), msg, fields);
}

void host_services::count(std::string_view name, std::string_view help,
                          std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double by) {
  metrics::labels l;
  for (const auto& [k, v] : labels) l.emplace_back(std::string(k), std::string(v));
  metrics::global().get_counter(name, help, l).inc(by);
}

boost::asio::awaitable<plugin::result<plugin::http_response>> host_services::http(plugin::http_request req) {
  net::request r;
  r.method = std::move(req.method);
  r.url = std::move(req.url);
  r.headers = std::move(req.headers);
  r.body = std::move(req.body);
  r.timeout = req.timeout;
  r.replayable = req.replayable;
  try {
    auto resp = co_await http_.send(std::move(r));
    co_return plugin::http_response{resp.status, std::move(resp.headers), std::move(resp.body)};
  } catch (const net::http_error& e) {
    co_return plugin::fail(plugin::errc::retryable, e.what());
  }
}

boost::asio::awaitable<plugin::result<plugin::http_response>> host_services::kube(std::string method,
                                                                                  std::string path_and_query,
                                                                                  std::string body,
                                                                                  std::string content_type) {
  if (!kube_) co_return plugin::fail(plugin::errc::permanent, "no Kubernetes API in this mode");
  bool idempotent = method == "GET";
  try {
    auto r = co_await kube_->request(std::move(method), std::move(path_and_query), std::move(body),
                                     std::move(content_type), idempotent);
    co_return plugin::http_response{r.status, {}, std::move(r.body)};
  } catch (const std::exception& e) {
    co_return plugin::fail(plugin::errc::retryable, e.what());
  }
}

plugin::result<std::string> host_services::read_secret(std::string_view file_name) {
  return read_secret_file(secrets_dir_, file_name);
}

plugin::result<std::string> host_services::read_file(std::string_view path, std::size_t max_bytes,
                                                     std::string_view config_key) {
  return read_plugin_file(path, max_bytes, config_key);
}

}  // namespace chainsd::plugin_host
