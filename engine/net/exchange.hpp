#pragma once
// One exchange: a request sent over a pooled or fresh connection (resolve, connect, TLS
// handshake with host checks) and its response read whole or handed over as a stream.
// exchange.cpp is the only client file that instantiates Beast's HTTP algorithms (the expensive
// templates); the client and the pool see this small header.

#include "net/connection_pool.hpp"
#include "net/http_client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <memory>

namespace chainsd::net {

// State shared by the client and its in-flight coroutines: a request started before the client
// is destroyed keeps the pool and TLS context alive until it completes.
struct client_state {
  client_state(boost::asio::any_io_executor e, client_options o);  // throws http_error "tls: ..."

  boost::asio::any_io_executor ex;
  client_options opts;
  boost::asio::ssl::context tls_ctx;
  connection_pool pool;  // after tls_ctx: pooled connections go first
  std::size_t opened = 0;
};

// http_client::send and http_client::open_stream (see http_client.hpp for deadlines, errors and
// cancellation).
boost::asio::awaitable<response> send_request(std::shared_ptr<client_state> st, request req);
boost::asio::awaitable<std::unique_ptr<response_stream>> open_response_stream(std::shared_ptr<client_state> st,
                                                                              request req);
// http_client::connect_stream: a raw TCP/TLS connection, never pooled.
boost::asio::awaitable<std::unique_ptr<byte_stream>> open_byte_stream(std::shared_ptr<client_state> st, std::string host,
                                                                      std::uint16_t port, bool tls,
                                                                      std::chrono::milliseconds timeout);

}  // namespace chainsd::net
