#pragma once
// Helpers for the net tests: certificates made at test time, a scriptable raw HTTP(S) server on
// 127.0.0.1 (each connection is handed to a test coroutine that reads requests and writes bytes),
// and run() to drive one coroutine on an io_context.
//
// All Asio socket code lives in test_support.cpp so the test files stay cheap to compile.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace chainsd::net::test {

namespace asio = boost::asio;

struct cert_pair {
  std::string cert_pem;
  std::string key_pem;
};

struct test_certs {
  cert_pair ca;            // "chainsd test CA"
  cert_pair server;        // signed by ca; SANs IP:127.0.0.1, DNS:localhost
  cert_pair wrong_name;    // signed by ca; SAN DNS:example.invalid only
  cert_pair client;        // signed by ca; clientAuth
  cert_pair other_ca;      // an unrelated CA
  cert_pair other_server;  // signed by other_ca; same SANs as server
};

// Generated once per process (EC P-256, valid from an hour ago for a day).
const test_certs& certs();

// Writes `text` to a fresh file under the temp directory and returns its path.
std::string write_temp_file(std::string_view name, std::string_view text);

struct raw_request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(std::string_view name) const;  // case-insensitive, "" if absent
};

class test_conn {
 public:
  virtual ~test_conn() = default;
  // Next request on the connection (Content-Length bodies only); nullopt on EOF or error.
  virtual asio::awaitable<std::optional<raw_request>> read_request() = 0;
  virtual asio::awaitable<void> write(std::string bytes) = 0;
  // Reads and discards until the peer closes (or close() is called).
  virtual asio::awaitable<void> wait_closed() = 0;
  virtual void close() = 0;
};

using conn_handler = std::function<asio::awaitable<void>(std::shared_ptr<test_conn>)>;

struct server_tls {
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;  // non-empty: require a client certificate signed by it
};

class test_server {
 public:
  test_server(asio::any_io_executor ex, conn_handler handler, std::optional<server_tls> tls = {});
  ~test_server();
  unsigned short port() const;
  std::string url(std::string_view path) const;  // http(s)://127.0.0.1:PORT + path
  std::size_t accepted() const;                  // connections accepted so far
  void stop();

  struct state;  // public only so the accept loop in test_support.cpp can name it

 private:
  std::shared_ptr<state> state_;
};

// A complete HTTP/1.1 response with Content-Length.
std::string http_response(unsigned status, std::string_view body, std::string_view extra_headers = {});

asio::awaitable<void> pause(std::chrono::milliseconds d);

// Lets a test server script wait until the client side has seen something.
class gate {
 public:
  explicit gate(asio::any_io_executor ex);
  asio::awaitable<void> wait();  // returns at once if already open
  void open();

 private:
  asio::steady_timer timer_;
  bool open_ = false;
};

// Runs the coroutine returned by f() on `io` until it completes, then stops the loop (servers
// keep accept loops pending). Rethrows its exception. `f` outlives the coroutine.
template <class F>
auto run(asio::io_context& io, F&& f) {
  using awaitable_t = decltype(f());
  using value_t = typename awaitable_t::value_type;
  std::exception_ptr error;
  io.restart();
  if constexpr (std::is_void_v<value_t>) {
    asio::co_spawn(io, f(), [&](std::exception_ptr e) {
      error = e;
      io.stop();
    });
    io.run();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<value_t> result;
    asio::co_spawn(io, f(), [&](std::exception_ptr e, value_t v) {
      error = e;
      if (!e) result.emplace(std::move(v));
      io.stop();
    });
    io.run();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }
}

}  // namespace chainsd::net::test
