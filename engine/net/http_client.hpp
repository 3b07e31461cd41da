#pragma once
// HTTP(S) client on Boost.Beast. One client per process (or per TLS identity); it owns a
// keep-alive connection pool keyed by scheme://host:port. All calls run on the client's
// executor (a single io_context thread); they are not thread-safe.
//
// Errors: transport failures (resolve, connect, TLS handshake, deadline, oversize body, bad
// response) throw http_error whose what() reads like
//   "GET https://host/path: TLS handshake failed: certificate verify failed".
// HTTP status codes are NOT errors: every complete response is returned, whatever its status.
// Redirects are never followed.
//
// Cancellation: the awaitables honour asio cancellation slots (e.g. a parallel_group or
// co_spawn with a cancellation slot); a cancelled request throws http_error with
// error_code() == boost::asio::error::operation_aborted and its connection is discarded.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chainsd::net {

struct tls_options {
  bool verify = true;            // certificate chain + host-name verification
  std::string ca_file;           // PEM bundle; empty = system default paths (unless ca_pem set)
  std::string ca_pem;            // PEM text, e.g. kubeconfig certificate-authority-data decoded
  std::string client_cert_pem;   // optional mutual-TLS identity
  std::string client_key_pem;
};

struct client_options {
  tls_options tls;
  std::size_t max_idle_per_host = 16;   // idle keep-alive connections kept per host
  std::chrono::milliseconds idle_keepalive{90'000};  // idle connections older than this are dropped
  std::string user_agent = "chainsd";
};

using header_list = std::vector<std::pair<std::string, std::string>>;

struct request {
  std::string method = "GET";
  std::string url;                   // absolute: http(s)://host[:port]/path[?query]
  header_list headers;               // added as given (Host, User-Agent, Content-Length are set for you)
  std::string body;
  std::chrono::milliseconds timeout{30'000};  // deadline for the whole exchange (send() only)
  std::size_t max_body = 64u << 20;           // larger responses fail with http_error
  // Repeating the request is harmless although its method is not idempotent (a server-side apply
  // PATCH, an upload the server dedupes): like Go's Idempotency-Key, it lets the client replay the
  // request after a reused connection fails once it was sent.
  bool replayable = false;
};

struct response {
  unsigned status = 0;
  header_list headers;
  std::string body;

  // Case-insensitive header lookup; empty when absent.
  std::string_view header(std::string_view name) const;
};

class http_error : public std::runtime_error {
 public:
  http_error(std::string what, boost::system::error_code ec = {})
      : std::runtime_error(std::move(what)), ec_(ec) {}
  boost::system::error_code error_code() const noexcept { return ec_; }
  bool timed_out() const noexcept;

 private:
  boost::system::error_code ec_;
};

// A response whose body is read incrementally (chunked or not): used for watch streams.
// The connection is owned by the stream and closed (never pooled) when it is destroyed.
class response_stream {
 public:
  virtual ~response_stream() = default;
  virtual unsigned status() const = 0;
  virtual const header_list& headers() const = 0;
  // Appends the next piece of body to `out`. Returns the number of bytes appended; 0 means the
  // body ended cleanly. Throws http_error on transport failure or if no byte arrives within
  // `idle_timeout` (a stalled stream).
  virtual boost::asio::awaitable<std::size_t> read_some(std::string& out,
                                                        std::chrono::milliseconds idle_timeout) = 0;
  // Closes the connection now; a pending read_some completes with operation_aborted.
  virtual void close() = 0;
};

// A raw TCP (optionally TLS) connection, for wire protocols that are not HTTP (plugins reach it
// through plugin::host::connect). Owns its connection; never pooled. Errors throw http_error whose
// what() reads "tcp 127.0.0.1:27017: reading failed: deadline of 5000 ms exceeded". Cancellation as
// for send(); close() makes a pending call fail with operation_aborted. One call at a time.
class byte_stream {
 public:
  virtual ~byte_stream() = default;
  // Writes all of `bytes` within `timeout`.
  virtual boost::asio::awaitable<void> write(std::string bytes, std::chrono::milliseconds timeout) = 0;
  // Appends what arrives next (at least one byte, at most `max`) to `out` within `timeout`;
  // returns the count, 0 when the peer closed the connection.
  virtual boost::asio::awaitable<std::size_t> read_some(std::string& out, std::size_t max,
                                                        std::chrono::milliseconds timeout) = 0;
  virtual void close() = 0;
};

// Percent-encodes every byte except RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~): for one
// path segment or one query name or value, e.g. a label selector.
std::string url_encode_component(std::string_view s);

class http_client {
 public:
  // Throws http_error "tls: ..." when the TLS options cannot be loaded (it reads tls.ca_file).
  // Two constructors, not a default argument: GCC 12 at -O3 warns (falsely, -Werror breaks the
  // release build) that the default client_options temporary's strings may be used uninitialized
  // in every caller; the defaults are now built here, in one translation unit.
  explicit http_client(boost::asio::any_io_executor ex);
  http_client(boost::asio::any_io_executor ex, client_options opts);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  // Sends the request and reads the whole response, within request.timeout.
  boost::asio::awaitable<response> send(request req);

  // Sends the request and returns once the response headers arrived (within request.timeout);
  // the body is then read with response_stream::read_some.
  boost::asio::awaitable<std::unique_ptr<response_stream>> open_stream(request req);

  // Opens a TCP connection to host:port (TLS with this client's tls_options when `tls`), lookup,
  // connect and handshake within `timeout`. `host` is a name or an IP address without brackets.
  boost::asio::awaitable<std::unique_ptr<byte_stream>> connect_stream(std::string host, std::uint16_t port, bool tls,
                                                                      std::chrono::milliseconds timeout);

  // Drops every pooled connection (e.g. after a credentials change).
  void clear_pool();

  // Number of idle pooled connections (for tests and metrics).
  std::size_t idle_connections() const;
  // Number of new TCP connections made since construction.
  std::size_t connections_opened() const;

  boost::asio::any_io_executor get_executor() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace chainsd::net
