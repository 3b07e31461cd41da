#pragma once
// The HTTP(S) front end: Beast on one io_context thread, one coroutine per connection,
// keep-alive, chunked watch streams. This is the only translation unit that sees Asio/Beast.

#include "api.hpp"

#include <chrono>
#include <functional>
#include <string>

namespace chainsd::testserver {

struct server_config {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  std::string tls_cert_pem;  // empty: plain HTTP
  std::string tls_key_pem;
  std::chrono::milliseconds bookmark_interval{1000};
  bool log_requests = false;
};

// Binds, calls `on_listening(url)` once the port is known (the caller writes the kubeconfig
// and prints the URL), then serves until SIGINT/SIGTERM. Returns the process exit code.
int run_server(const server_config& cfg, api& a, store& s,
               const std::function<void(const std::string& url)>& on_listening);

}  // namespace chainsd::testserver
