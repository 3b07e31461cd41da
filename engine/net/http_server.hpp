#pragma once
// Small HTTP/1.1 server for /metrics, /healthz and /readyz (and anything else registered).
// Runs on the given executor; handlers are plain functions called on that thread.

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace chainsd::net {

struct simple_response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using route_handler = std::function<simple_response(std::string_view target)>;

class http_server {
 public:
  // `address` is "HOST:PORT" (port 0 = ephemeral). Throws std::runtime_error naming the address
  // when it cannot bind.
  http_server(boost::asio::any_io_executor ex, std::string address);
  ~http_server();

  // Exact-path routes (query string ignored when matching). Register before start().
  void route(std::string path, route_handler h);

  void start();
  void stop();  // closes the acceptor and every open connection
  std::string local_address() const;  // "127.0.0.1:PORT" after start()

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace chainsd::net
