#include "kube/client.hpp"

#include "runtime/backoff.hpp"
#include "runtime/log.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>


namespace chainsd::kube {
namespace asio = boost::asio;

namespace {

net::client_options make_http_options(const client_config& cfg, const client_options& o) {
  net::client_options h;
  h.tls = cfg.tls;
  h.user_agent = o.user_agent;
  h.max_idle_per_host = o.max_idle_connections;
  return h;
}

std::string_view content_type_for(patch_type t) {
  switch (t) {
    case patch_type::merge: return "application/merge-patch+json";
    case patch_type::json: return "application/json-patch+json";
    case patch_type::strategic_merge: return "application/strategic-merge-patch+json";
    case patch_type::apply: return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

bool retryable_5xx(unsigned s) { return s >= 500 && s != 501 && s < 600; }

asio::awaitable<void> wait(std::chrono::steady_clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

}  // namespace

struct client::impl {
  impl(asio::any_io_executor ex, client_config c, client_options o)
      : cfg_(std::move(c)),
        opts_(o),
        http_(ex, make_http_options(cfg_, opts_)),
        limiter_(opts_.qps, opts_.burst) {}

  client_config cfg_;
  client_options opts_;
  net::http_client http_;
  rate_limiter limiter_;

  void add_auth(net::request& req) {
    if (cfg_.token) {
      const std::string& t = cfg_.token->get();
      if (!t.empty()) req.headers.emplace_back("Authorization", "Bearer " + t);
    }
  }
};

client::client(asio::any_io_executor ex, client_config cfg, client_options opts)
    : impl_(std::make_unique<impl>(std::move(ex), std::move(cfg), opts)) {}
client::~client() = default;

const client_config& client::config() const { return impl_->cfg_; }
const client_options& client::options() const { return impl_->opts_; }
net::http_client& client::http() { return impl_->http_; }
asio::any_io_executor client::get_executor() const { return impl_->http_.get_executor(); }

client::awaitable_result client::request(std::string method, std::string path_and_query,
                                         std::string body, std::string content_type,
                                         bool idempotent) {
  impl& im = *impl_;
  runtime::backoff bo(im.opts_.retry_initial, im.opts_.retry_max);
  bool token_reloaded = false;
  for (int attempt = 0;; ++attempt) {
    bool last_attempt = attempt >= im.opts_.max_retries;
    if (auto d = im.limiter_.reserve(); d > std::chrono::steady_clock::duration::zero()) co_await wait(d);

    net::request req;
    req.method = method;
    req.url = im.cfg_.server + path_and_query;
    req.timeout = im.opts_.request_timeout;
    req.headers.emplace_back("Accept", "application/json");
    if (!content_type.empty()) req.headers.emplace_back("Content-Type", content_type);
    im.add_auth(req);
    req.body = body;
    req.replayable = idempotent;  // e.g. a server-side apply

    std::chrono::milliseconds delay{-1};
    try {
      net::response resp = co_await im.http_.send(std::move(req));
      if (resp.status == 401 && !token_reloaded && im.cfg_.token && im.cfg_.token->from_file()) {
        // The kubelet may have rotated the token since we last looked.
        token_reloaded = true;
        im.cfg_.token->reload();
        im.http_.clear_pool();
        continue;
      }
      bool retry = !last_attempt &&
                   (resp.status == 429 || (idempotent && retryable_5xx(resp.status)));
      if (!retry) co_return result{resp.status, std::move(resp.body)};
      delay = bo.next();
      if (auto ra = parse_retry_after(resp.header("Retry-After")); ra.count() >= 0)
        delay = std::min(std::max(ra, delay), im.opts_.max_retry_after);
      log::debug("kube request retried", {{"method", method},
                                          {"path", path_and_query},
                                          {"status", std::to_string(resp.status)},
                                          {"delay_ms", std::to_string(delay.count())}});
    } catch (const net::http_error& e) {
      if (e.error_code() == asio::error::operation_aborted || !idempotent || last_attempt) throw;
      delay = bo.next();
      log::debug("kube request retried", {{"method", method},
                                          {"path", path_and_query},
                                          {"error", e.what()},
                                          {"delay_ms", std::to_string(delay.count())}});
    }
    co_await wait(delay);
  }
}

client::awaitable_result client::get(resource r, std::string ns, std::string name) {
  co_return co_await request("GET", resource_path(r, ns, name), {}, {}, true);
}

namespace {
std::string list_path(const resource& r, const std::string& ns, const list_options& o) {
  std::string path = resource_path(r, ns);
  if (!o.label_selector.empty()) append_query(path, "labelSelector", o.label_selector);
  if (!o.field_selector.empty()) append_query(path, "fieldSelector", o.field_selector);
  if (o.limit) append_query(path, "limit", std::to_string(o.limit));
  if (!o.continue_token.empty()) append_query(path, "continue", o.continue_token);
  if (!o.resource_version.empty()) append_query(path, "resourceVersion", o.resource_version);
  return path;
}
}  // namespace

client::awaitable_result client::list(resource r, std::string ns, list_options o) {
  co_return co_await request("GET", list_path(r, ns, o), {}, {}, true);
}

asio::awaitable<std::unique_ptr<net::response_stream>> client::open_list(resource r, std::string ns,
                                                                         list_options o) {
  impl& im = *impl_;
  for (bool token_reloaded = false;; token_reloaded = true) {
    if (auto d = im.limiter_.reserve(); d > std::chrono::steady_clock::duration::zero()) co_await wait(d);
    net::request req;
    req.method = "GET";
    req.url = im.cfg_.server + list_path(r, ns, o);
    req.timeout = im.opts_.request_timeout;
    req.headers.emplace_back("Accept", "application/json");
    im.add_auth(req);
    auto stream = co_await im.http_.open_stream(std::move(req));
    // As request(): the kubelet may have rotated the token since we last looked.
    if (stream->status() != 401 || token_reloaded || !im.cfg_.token || !im.cfg_.token->from_file())
      co_return stream;
    stream->close();
    im.cfg_.token->reload();
    im.http_.clear_pool();
  }
}

client::awaitable_result client::create(resource r, std::string ns, std::string body) {
  co_return co_await request("POST", resource_path(r, ns), std::move(body), "application/json", false);
}

client::awaitable_result client::update(resource r, std::string ns, std::string name, std::string body) {
  co_return co_await request("PUT", resource_path(r, ns, name), std::move(body), "application/json",
                             false);
}

client::awaitable_result client::patch(resource r, std::string ns, std::string name, patch_type type,
                                       std::string body, patch_options o) {
  std::string path = resource_path(r, ns, name);
  // Always named, so managedFields say who wrote what; apply requires it.
  append_query(path, "fieldManager", o.field_manager.empty() ? "chainsd" : o.field_manager);
  if (type == patch_type::apply && o.force) append_query(path, "force", "true");
  // Apply is idempotent by definition; other patches (e.g. JSON patch "add") may not be.
  bool idempotent = type == patch_type::apply;
  co_return co_await request("PATCH", std::move(path), std::move(body),
                             std::string(content_type_for(type)), idempotent);
}

client::awaitable_result client::apply(resource r, std::string ns, std::string name, std::string body,
                                       std::string field_manager, bool force) {
  patch_options o{std::move(field_manager), force};
  co_return co_await patch(std::move(r), std::move(ns), std::move(name), patch_type::apply,
                           std::move(body), std::move(o));
}

client::awaitable_result client::remove(resource r, std::string ns, std::string name, std::string body) {
  std::string ct = body.empty() ? std::string() : std::string("application/json");
  co_return co_await request("DELETE", resource_path(r, ns, name), std::move(body), std::move(ct),
                             false);
}

client::awaitable_result client::create_subresource(resource r, std::string ns, std::string name,
                                                    std::string subresource, std::string body) {
  co_return co_await request("POST", resource_path(r, ns, name, subresource), std::move(body),
                             "application/json", false);
}

asio::awaitable<std::unique_ptr<net::response_stream>> client::open_watch(resource r, watch_request w) {
  impl& im = *impl_;
  std::string path = resource_path(r, w.namespace_name);
  append_query(path, "watch", "true");
  if (w.bookmarks) append_query(path, "allowWatchBookmarks", "true");
  if (!w.resource_version.empty()) append_query(path, "resourceVersion", w.resource_version);
  if (w.timeout_seconds > 0) append_query(path, "timeoutSeconds", std::to_string(w.timeout_seconds));
  if (!w.label_selector.empty()) append_query(path, "labelSelector", w.label_selector);
  if (!w.field_selector.empty()) append_query(path, "fieldSelector", w.field_selector);
  net::request req;
  req.method = "GET";
  req.url = im.cfg_.server + path;
  req.timeout = im.opts_.request_timeout;
  req.headers.emplace_back("Accept", "application/json");
  im.add_auth(req);
  co_return co_await im.http_.open_stream(std::move(req));
}

}  // namespace chainsd::kube
