#pragma once
// Services the engine gives a plugin. A plugin reaches the outside only through its host: it owns
// no threads (unless a library forces it, and then it hands results back to executor()), opens no
// sockets of its own (connect() opens a TCP stream for it), and reads files only through
// read_secret() and read_file().
//
// Ownership: the host outlives every plugin instance created with it. All calls are made and
// complete on executor()'s thread (the engine's single io_context thread); none is thread-safe.
// Cancellation: the awaitables honour the caller's cancellation slot.

#include "chainsd/plugin/config.hpp"
#include "chainsd/plugin/errors.hpp"
#include "chainsd/plugin/stream.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chainsd::plugin {

enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };
using log_field = std::pair<std::string_view, std::string_view>;
using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_request {
  std::string method = "GET";
  std::string url;
  header_list headers;
  std::string body;
  std::chrono::milliseconds timeout{30'000};
  // Repeating it is harmless although the method is not idempotent (a POST the server dedupes or
  // that only opens a session): the host may then replay it after a reused connection failed.
  bool replayable = false;
};

struct http_response {
  unsigned status = 0;
  header_list headers;
  std::string body;
};

// The chains-config ConfigMap data a plugin instance was built from (immutable).
using config_map = std::map<std::string, std::string, std::less<>>;

class host {
 public:
  virtual ~host() = default;

  virtual boost::asio::any_io_executor executor() = 0;

  // JSON-line logs on the engine's stdout at `level`, with `fields` as given. The engine adds
  // nothing to the line: name the plugin in `msg` or in a field where a reader must tell which
  // plugin wrote it.
  virtual void log(log_level level, std::string_view msg, std::initializer_list<log_field> fields = {}) = 0;

  // Adds to a counter in the engine's /metrics (name should start with "chainsd_plugin_").
  virtual void count(std::string_view name, std::string_view help,
                     std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                     double by = 1) = 0;

  // Outbound HTTP(S) through the engine's pooled client (TLS verification on). Transport
  // failures are `retryable` errors; every HTTP status is a successful result.
  virtual boost::asio::awaitable<result<http_response>> http(http_request req) = 0;

  // A request to the Kubernetes API server with the controller's credentials. `path_and_query`
  // starts with '/'. Every status is returned as is (the body is the API's JSON or Status).
  virtual boost::asio::awaitable<result<http_response>> kube(std::string method, std::string path_and_query,
                                                             std::string body, std::string content_type) = 0;

  // Reads a file of the signing-secrets directory (e.g. "x509.pem"). not_found when absent;
  // bad_config when it is not a regular file or larger than 1 MiB.
  // Blocking but bounded: call it when building the plugin instance or from a periodic check.
  virtual result<std::string> read_secret(std::string_view file_name) = 0;
  // Reads the file at `path` that chains-config key `config_key` names (a docker config, a token
  // file): regular files only, at most `max_bytes`, never blocking on a fifo. not_found when
  // absent; bad_config otherwise, the message naming the key and the path. Blocking but bounded,
  // as read_secret. The default refuses (a host that gives plugins no files).
  virtual result<std::string> read_file(std::string_view path, std::size_t max_bytes, std::string_view config_key) {
    (void)max_bytes;
    return fail(errc::bad_config, std::string(config_key) + ": " + std::string(path) + ": this host reads no files");
  }
  // The signing-secrets directory, e.g. to watch it for changes.
  virtual std::string secrets_dir() = 0;

  // A TCP byte stream to opts.host:opts.port on the loop (see stream.hpp), for a wire protocol that
  // is not HTTP. Lookup, connect and handshake failures and the deadline are `retryable` errors
  // naming host and port; a TLS certificate that does not verify is `bad_config`. Declared last so
  // the vtable of older plugins keeps its layout. The default refuses (a host that opens no streams).
  virtual boost::asio::awaitable<result<std::unique_ptr<stream>>> connect(stream_options opts) {
    co_return fail(errc::bad_config, opts.host + ":" + std::to_string(opts.port) + ": this host opens no streams");
  }
};

}  // namespace chainsd::plugin
