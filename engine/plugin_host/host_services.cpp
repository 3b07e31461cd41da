#include "plugin_host/host_services.hpp"

#include "plugin_host/file_access.hpp"

#include "runtime/log.hpp"
#include "runtime/metrics.hpp"

#include <algorithm>
#include <chrono>
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

namespace {

// plugin::stream over the net layer's byte_stream: transport errors become `retryable` results.
// A buffer holds what read_exact() read past what it returned.
class host_stream final : public plugin::stream {
 public:
  explicit host_stream(std::unique_ptr<net::byte_stream> s) : s_(std::move(s)) {}
  ~host_stream() override { s_->close(); }

  boost::asio::awaitable<plugin::result<void>> write(std::string bytes, std::chrono::milliseconds timeout) override {
    try {
      co_await s_->write(std::move(bytes), timeout);
      co_return plugin::result<void>{};
    } catch (const std::exception& e) {
      co_return plugin::fail(plugin::errc::retryable, e.what());
    }
  }

  boost::asio::awaitable<plugin::result<std::string>> read_some(std::size_t max, std::chrono::milliseconds timeout) override {
    if (!buf_.empty()) {
      std::string out = buf_.substr(0, max);
      buf_.erase(0, out.size());
      co_return out;
    }
    try {
      std::string out;
      co_await s_->read_some(out, max, timeout);
      co_return out;
    } catch (const std::exception& e) {
      co_return plugin::fail(plugin::errc::retryable, e.what());
    }
  }

  boost::asio::awaitable<plugin::result<std::string>> read_exact(std::size_t n, std::chrono::milliseconds timeout) override {
    // One deadline for the whole read, however many pieces it arrives in.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    try {
      while (buf_.size() < n) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        const std::size_t got = co_await s_->read_some(buf_, std::max<std::size_t>(n - buf_.size(), 16 * 1024),
                                                       std::max(left, std::chrono::milliseconds(1)));
        if (got == 0)
          co_return plugin::fail(plugin::errc::retryable, "the peer closed the connection after " +
                                                              std::to_string(buf_.size()) + " of " + std::to_string(n) +
                                                              " bytes");
      }
    } catch (const std::exception& e) {
      co_return plugin::fail(plugin::errc::retryable, e.what());
    }
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    co_return out;
  }

  void close() override { s_->close(); }

 private:
  std::unique_ptr<net::byte_stream> s_;
  std::string buf_;
};

}  // namespace

boost::asio::awaitable<plugin::result<std::unique_ptr<plugin::stream>>> host_services::connect(plugin::stream_options opts) {
  try {
    auto s = co_await http_.connect_stream(opts.host, opts.port, opts.tls, opts.timeout);
    co_return std::unique_ptr<plugin::stream>(std::make_unique<host_stream>(std::move(s)));
  } catch (const std::exception& e) {
    const std::string what = e.what();
    // A certificate that does not verify will not verify on a retry either.
    const bool cert = what.find("TLS handshake failed: certificate verify failed") != std::string::npos;
    co_return plugin::fail(cert ? plugin::errc::bad_config : plugin::errc::retryable, what);
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
