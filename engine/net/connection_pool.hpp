#pragma once
// Idle keep-alive connections, pooled per scheme://host:port. The pool knows a connection only as
// an owning handle and a liveness probe (both defined with the connection in exchange.cpp), so
// this file compiles without Asio or Beast. Single-threaded, like the client.

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

namespace chainsd::net {

struct connection;  // exchange.cpp: a TCP or TLS stream and its read buffer
struct connection_delete {
  void operator()(connection* c) const noexcept;
};
using connection_ptr = std::unique_ptr<connection, connection_delete>;

// False when the peer already closed an idle connection (a non-blocking peek shows EOF or stray
// bytes) or bytes are left in its read buffer. The replay in exchange() covers the race that
// remains.
bool looks_alive(connection& c);

class connection_pool {
 public:
  connection_pool(std::size_t max_idle_per_host, std::chrono::milliseconds idle_keepalive)
      : max_idle_per_host_(max_idle_per_host), idle_keepalive_(idle_keepalive) {}

  // The newest idle connection for `key` that is not older than idle_keepalive and looks alive
  // (newest first: the least likely to have been closed); null when there is none.
  connection_ptr acquire(const std::string& key);
  // Keeps `conn` (whose deadline the caller cleared) for reuse, dropping the oldest beyond
  // max_idle_per_host, and sweeps expired connections of every host. After close() it drops it.
  void release(const std::string& key, connection_ptr conn);
  void clear() { idle_.clear(); }
  // The client is gone: drop every idle connection and pool none from now on.
  void close() {
    closed_ = true;
    idle_.clear();
  }
  std::size_t idle_count() const;

 private:
  struct entry {
    connection_ptr conn;
    std::chrono::steady_clock::time_point since;
  };
  std::size_t max_idle_per_host_;
  std::chrono::milliseconds idle_keepalive_;
  std::unordered_map<std::string, std::deque<entry>> idle_;
  bool closed_ = false;
};

}  // namespace chainsd::net
