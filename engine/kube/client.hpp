#pragma once
// Kubernetes API client: typed verbs over net::http_client, returning raw JSON bodies (parse them
// with simdjson where needed; nothing here builds a DOM of a response).
//
// Every request is rate limited (token bucket) except watches, has a per-attempt deadline
// (client_options::request_timeout) and is retried with backoff+jitter, bounded by max_retries:
//   - 429 Too Many Requests on any verb (the server did not act on it), honouring Retry-After;
//   - 5xx (except 501) and transport errors only on idempotent verbs: get, list, apply;
//   - one retry after 401 when the token comes from a file (it may just have rotated).
// After the retries the last response is returned as a result (or the transport error thrown as
// net::http_error). HTTP error statuses are never thrown: result::ok(), not_found(), conflict()
// and gone() are the normal branches; result::value() throws kube_error if you want that.
//
// No coroutine here has default arguments: g++ 12 frees a defaulted class-type coroutine
// parameter twice, so defaults are plain inline overloads.
//
// Threading/ownership: one client per process, used from its executor's thread only. The client
// must outlive every coroutine using it. Cancellation: awaitables honour the caller's
// cancellation slot; a cancelled request throws (net::http_error or system_error with
// operation_aborted).

#include "kube/config.hpp"
#include "kube/errors.hpp"
#include "kube/rate_limiter.hpp"
#include "kube/resource.hpp"
#include "net/http_client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace chainsd::kube {

struct client_options {
  double qps = 500;            // --kube-api-qps
  double burst = 1000;         // --kube-api-burst
  std::chrono::milliseconds request_timeout{30'000};
  int max_retries = 5;
  std::chrono::milliseconds retry_initial{200};
  std::chrono::milliseconds retry_max{10'000};
  std::chrono::milliseconds max_retry_after{30'000};  // cap on a server's Retry-After
  std::string user_agent = "chainsd";
  // Idle keep-alive connections kept: at least the requests in flight at once, or every request
  // beyond it pays a new connection (the controller sets it from --max-in-flight).
  std::size_t max_idle_connections = 64;
};

struct list_options {
  std::string label_selector;
  std::string field_selector;
  unsigned limit = 0;               // page size; 0 = server default (no pagination)
  std::string continue_token;
  std::string resource_version;     // "" = most recent (consistent read)
};

enum class patch_type { merge, json, strategic_merge, apply };

struct patch_options {
  std::string field_manager = "chainsd";  // sent on every patch (apply requires one)
  bool force = false;                     // apply: take ownership of conflicting fields
};

struct watch_request {
  std::string namespace_name;   // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;
  int timeout_seconds = 300;    // server ends the watch after this; 0 = none
  bool bookmarks = true;
};

class client {
 public:
  client(boost::asio::any_io_executor ex, client_config cfg, client_options opts = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  using awaitable_result = boost::asio::awaitable<result>;

  awaitable_result get(resource r, std::string ns, std::string name);
  // One page; follow the continue token from list_meta (json_scan.hpp) for the next page.
  awaitable_result list(resource r, std::string ns, list_options o);
  awaitable_result list(resource r, std::string ns) {
    return list(std::move(r), std::move(ns), list_options{});
  }
  awaitable_result create(resource r, std::string ns, std::string body);
  awaitable_result update(resource r, std::string ns, std::string name, std::string body);
  // merge: application/merge-patch+json; json: application/json-patch+json;
  // apply: application/apply-patch+yaml (server-side apply; body may be JSON, which is YAML).
  awaitable_result patch(resource r, std::string ns, std::string name, patch_type type,
                         std::string body, patch_options o);
  awaitable_result patch(resource r, std::string ns, std::string name, patch_type type,
                         std::string body) {
    return patch(std::move(r), std::move(ns), std::move(name), type, std::move(body),
                 patch_options{});
  }
  awaitable_result apply(resource r, std::string ns, std::string name, std::string body,
                         std::string field_manager, bool force);
  // `remove` because `delete` is taken. body: optional DeleteOptions JSON.
  awaitable_result remove(resource r, std::string ns, std::string name, std::string body);
  awaitable_result remove(resource r, std::string ns, std::string name) {
    return remove(std::move(r), std::move(ns), std::move(name), std::string());
  }
  // POST to a subresource, e.g. serviceaccounts/NAME/token (TokenRequest).
  awaitable_result create_subresource(resource r, std::string ns, std::string name,
                                      std::string subresource, std::string body);

  // list() as a stream: rate limited, returns once the response headers arrived (within
  // request_timeout), not retried (list_pager.hpp owns that loop) except once after a 401 when the
  // token comes from a file (as every verb); any other status is returned as is.
  // The body is read with read_some, so a page's size never has to fit in memory.
  boost::asio::awaitable<std::unique_ptr<net::response_stream>> open_list(resource r, std::string ns,
                                                                          list_options o);

  // Starts a watch; returns once response headers arrived (within request_timeout). Not rate
  // limited and not retried: the watcher owns that loop. A non-200 status is returned as is
  // (the caller reads the Status from the stream).
  boost::asio::awaitable<std::unique_ptr<net::response_stream>> open_watch(resource r,
                                                                           watch_request w);

  // Escape hatch for verbs not listed above. `path_and_query` starts with '/'.
  awaitable_result request(std::string method, std::string path_and_query, std::string body,
                           std::string content_type, bool idempotent);

  const client_config& config() const;
  const client_options& options() const;
  net::http_client& http();
  boost::asio::any_io_executor get_executor() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace chainsd::kube
