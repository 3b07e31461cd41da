#pragma once
// A TCP byte stream the host opened for a plugin (host::connect), for backends that speak a wire
// protocol of their own rather than HTTP (MongoDB's OP_MSG).
//
// Ownership: the plugin owns the stream; it may outlive neither the host nor the loop. One
// operation at a time: a write and a read may not be pending together.
// Deadlines: every call takes its own timeout; when it passes the call fails `retryable` (the
// message says "deadline of N ms exceeded") and the stream is unusable (close it).
// Cancellation: the awaitables honour the caller's cancellation slot; a cancelled call fails
// `retryable` and leaves the stream unusable. close() makes a pending call fail the same way.

#include "chainsd/plugin/config.hpp"
#include "chainsd/plugin/errors.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace chainsd::plugin {

struct stream_options {
  std::string host;         // a DNS name or an IP address (no brackets)
  std::uint16_t port = 0;
  // TLS with the host's own verification: the system CAs, the certificate's name or IP must match
  // `host`, TLS >= 1.2, SNI for names.
  bool tls = false;
  std::chrono::milliseconds timeout{10'000};  // name lookup + connect + TLS handshake
};

class stream {
 public:
  virtual ~stream() = default;
  // Writes all of `bytes`.
  virtual boost::asio::awaitable<result<void>> write(std::string bytes, std::chrono::milliseconds timeout) = 0;
  // The next bytes that arrive, at least one and at most `max`; empty when the peer closed.
  virtual boost::asio::awaitable<result<std::string>> read_some(std::size_t max, std::chrono::milliseconds timeout) = 0;
  // Exactly `n` bytes; the peer closing first is a `retryable` error.
  virtual boost::asio::awaitable<result<std::string>> read_exact(std::size_t n, std::chrono::milliseconds timeout) = 0;
  // Closes the connection now (idempotent).
  virtual void close() = 0;
};

}  // namespace chainsd::plugin
