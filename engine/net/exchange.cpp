#include "net/exchange.hpp"

#include "net/call.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

namespace chainsd::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;

const auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Plain TCP and TLS behind one stream type, so Beast's HTTP algorithms (the expensive templates)
// are instantiated once instead of once per transport.
class dual_stream {
 public:
  using executor_type = beast::tcp_stream::executor_type;
  using tls_stream = beast::ssl_stream<beast::tcp_stream>;

  explicit dual_stream(beast::tcp_stream tcp) : plain_(std::move(tcp)) {}
  dual_stream(beast::tcp_stream tcp, ssl::context& ctx) : tls_(std::in_place, std::move(tcp), ctx) {}

  executor_type get_executor() { return tcp().get_executor(); }
  beast::tcp_stream& tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  tls_stream* tls() { return tls_ ? &*tls_ : nullptr; }

  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence& b, ReadToken&& token) {
    if (tls_) return tls_->async_read_some(b, std::forward<ReadToken>(token));
    return plain_->async_read_some(b, std::forward<ReadToken>(token));
  }

  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& b, WriteToken&& token) {
    if (tls_) return tls_->async_write_some(b, std::forward<WriteToken>(token));
    return plain_->async_write_some(b, std::forward<WriteToken>(token));
  }

 private:
  std::optional<beast::tcp_stream> plain_;
  std::optional<tls_stream> tls_;
};

// Beast sizes each read by the buffer's free capacity (at least 512 bytes): without room a 40 KB
// response or watch event would arrive in dozens of small reads. Up to 64 KB per connection,
// taken once its answer starts to arrive (4 KB for the header, then as much as the announced
// length needs; streams and bodies of unknown length the whole 64 KB) and given back when it
// goes idle: a request waiting for its answer (a Rekor v2 upload waits about a second for its
// checkpoint) or an idle kept-alive connection holds none, and a checkpoint answering 1,000
// uploads at once does not take 64 MB.
constexpr std::size_t read_buffer_bytes = 64 * 1024;
constexpr std::size_t header_buffer_bytes = 4 * 1024;

}  // namespace

// One transport (TCP or TLS) and its read buffer; pooled as a connection_ptr between requests.
struct connection {
  explicit connection(beast::tcp_stream tcp) : stream(std::move(tcp)) {}
  connection(beast::tcp_stream tcp, ssl::context& ctx) : stream(std::move(tcp), ctx) {}

  dual_stream stream;
  beast::flat_buffer buffer;
};

void connection_delete::operator()(connection* c) const noexcept { delete c; }

bool looks_alive(connection& c) {
  auto& sock = c.stream.tcp().socket();
  if (!sock.is_open() || c.buffer.size() != 0) return false;
  char byte = 0;
  const auto n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

namespace {

using parser_t = http::response_parser<http::buffer_body>;

// Errors that mean "the peer closed a kept-alive connection under us"; only these are retried.
bool peer_closed(error_code ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
         ec == asio::error::not_connected || ec == http::error::end_of_stream ||
         ec == http::error::partial_message || ec == ssl::error::stream_truncated;
}

// now + timeout without overflowing for "no deadline" values such as milliseconds::max().
steady::time_point deadline_after(std::chrono::milliseconds timeout) {
  const auto now = steady::now();
  if (timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(steady::time_point::max() - now))
    return steady::time_point::max();
  return now + timeout;
}

http::request<http::string_body> build_message(request& req, const call& c, const client_options& opts) {
  http::request<http::string_body> msg;
  msg.version(11);
  msg.method_string(req.method);
  msg.target(c.target);
  msg.set(http::field::host, c.host_header);
  msg.set(http::field::user_agent, opts.user_agent);
  for (auto& [name, value] : req.headers) {
    // A CR or LF in a value would let a caller (or data it forwards) smuggle headers.
    if (!is_token(name) || value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      throw http_error(c.prefix + ": invalid header \"" + name + "\"");
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) continue;
    if (iequals(name, "host") || iequals(name, "user-agent"))
      msg.set(name, value);
    else
      msg.insert(name, value);
  }
  msg.body() = std::move(req.body);
  msg.prepare_payload();
  return msg;
}

// A name lookup in flight: shared by the waiting call and the lookup's completion handler.
struct pending_lookup {
  pending_lookup(asio::any_io_executor ex, steady::time_point deadline) : resolver(ex), done(ex, deadline) {}
  tcp::resolver resolver;
  asio::steady_timer done;  // expires at the call's deadline; cancelled when the lookup completes
  error_code ec;
  tcp::resolver::results_type results;
  bool finished = false;
};

asio::awaitable<connection_ptr> connect(std::shared_ptr<client_state> st, const call& c,
                                                     steady::time_point deadline) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<tcp::endpoint> endpoints;
  const auto port = static_cast<unsigned short>(std::stoul(c.port));
  if (c.host_is_ip) {
    endpoints.emplace_back(asio::ip::make_address(c.host), port);
  } else {
    // The resolver has no deadline of its own, and cancelling it does not interrupt a lookup in
    // getaddrinfo (a black-holed DNS server holds it for resolv.conf's timeout x attempts). So the
    // call waits on a timer that the lookup's handler cancels: at the deadline it gives up and
    // leaves the lookup behind (its handler owns the state and finds nobody waiting).
    auto p = std::make_shared<pending_lookup>(ex, deadline);
    p->resolver.async_resolve(c.host, c.port, [p](error_code ec, tcp::resolver::results_type r) {
      p->ec = ec;
      p->results = std::move(r);
      p->finished = true;
      p->done.cancel();
    });
    auto [tec] = co_await p->done.async_wait(use_tuple);
    if (!p->finished) {
      p->resolver.cancel();
      fail(c, "resolving " + c.host + " failed", tec ? tec : error_code(beast::error::timeout));
    }
    auto ec = p->ec;
    const auto results = std::move(p->results);
    if (ec) fail(c, "resolving " + c.host + " failed", ec);
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }

  beast::tcp_stream sock(ex);
  sock.expires_at(deadline);
  auto [ec, ep] = co_await sock.async_connect(endpoints, use_tuple);
  if (ec) fail(c, "connect to " + c.host_header + " failed", ec);
  ++st->opened;
  error_code ignored;
  sock.socket().set_option(tcp::no_delay(true), ignored);
  if (!c.tls) co_return connection_ptr(new connection(std::move(sock)));

  auto conn = connection_ptr(new connection(std::move(sock), st->tls_ctx));
  conn->stream.tcp().expires_at(deadline);
  auto& tls = *conn->stream.tls();
  SSL* ssl = tls.native_handle();
  // SNI carries names only (RFC 6066); IP hosts are checked against IP SANs instead.
  if (!c.host_is_ip && SSL_set_tlsext_host_name(ssl, c.host.c_str()) != 1)
    throw http_error(c.prefix + ": TLS setup failed: cannot set SNI");
  if (st->opts.tls.verify) {
    // OpenSSL's own host check (instead of a verify callback) records why it failed, so the
    // error can say "hostname mismatch" rather than just "certificate verify failed".
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int ok = c.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, c.host.c_str())
                                : X509_VERIFY_PARAM_set1_host(param, c.host.c_str(), c.host.size());
    if (ok != 1) throw http_error(c.prefix + ": TLS setup failed: cannot set the expected host name");
  }
  auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, use_tuple);
  if (hec) {
    std::string why = reason(c, hec);
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    throw http_error(c.prefix + ": TLS handshake failed: " + why, hec);
  }
  co_return conn;
}

struct exchanged {
  connection_ptr conn;
  std::unique_ptr<parser_t> parser;
};

// connect() and exchange() take `c` and `msg` by reference (an exception to the by-value rule):
// they are private and always awaited at once by a caller whose frame owns both.

// Sends the request and reads the response header. A reused connection that fails while the
// request is being written was closed by the peer while idle: the request is replayed once on a
// fresh connection. Once the request was written the server may have acted on it, so a failure
// before (or while) the response header arrives is replayed only for idempotent or replayable
// requests, as Go's transport does.
asio::awaitable<exchanged> exchange(std::shared_ptr<client_state> st, const call& c,
                                    const http::request<http::string_body>& msg,
                                    steady::time_point deadline, bool stream_body) {
  for (int attempt = 0;; ++attempt) {
    auto conn = attempt == 0 ? st->pool.acquire(c.key) : nullptr;
    const bool may_retry = conn != nullptr;
    if (!conn) conn = co_await connect(st, c, deadline);
    conn->stream.tcp().expires_at(deadline);

    auto [wec, written] = co_await http::async_write(conn->stream, msg, use_tuple);
    if (wec) {
      if (may_retry && peer_closed(wec)) continue;
      fail(c, "sending request failed", wec);
    }

    // The first byte of the answer, then the read buffer (see read_buffer_bytes).
    char first = 0;
    auto [rec, n] = co_await conn->stream.async_read_some(asio::buffer(&first, 1), use_tuple);
    if (rec) {
      if (may_retry && c.idempotent && peer_closed(rec)) continue;
      fail(c, "reading response failed", rec);
    }
    conn->buffer.reserve(header_buffer_bytes);
    if (n == 1) {
      *static_cast<char*>(conn->buffer.prepare(1).data()) = first;
      conn->buffer.commit(1);
    }

    auto parser = std::make_unique<parser_t>();
    parser->header_limit(64 * 1024);
    if (stream_body)
      parser->body_limit(boost::none);  // watch streams are unbounded by design
    else
      parser->body_limit(static_cast<std::uint64_t>(c.max_body));
    if (c.head) parser->skip(true);
    auto [hec, hn] = co_await http::async_read_header(conn->stream, conn->buffer, *parser, use_tuple);
    if (hec) {
      if (may_retry && c.idempotent && peer_closed(hec)) continue;
      fail(c, hec == http::error::body_limit ? "reading response failed" : "reading response header failed", hec);
    }
    co_return exchanged{std::move(conn), std::move(parser)};
  }
}

header_list copy_headers(const parser_t& p) {
  header_list out;
  for (const auto& f : p.get()) out.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return out;
}

constexpr std::size_t read_chunk = 16 * 1024;
constexpr std::size_t body_padding = 64;  // simdjson::SIMDJSON_PADDING

class stream_impl final : public response_stream {
 public:
  stream_impl(std::shared_ptr<client_state> st, call c, exchanged ex)
      : state_(std::move(st)), call_(std::move(c)), conn_(std::move(ex.conn)), parser_(std::move(ex.parser)) {
    status_ = parser_->get().result_int();
    headers_ = copy_headers(*parser_);
    conn_->stream.tcp().expires_never();
    conn_->buffer.reserve(read_buffer_bytes);
  }

  unsigned status() const override { return status_; }
  const header_list& headers() const override { return headers_; }

  asio::awaitable<std::size_t> read_some(std::string& out, std::chrono::milliseconds idle_timeout) override {
    if (closed_) throw http_error(call_.prefix + ": reading response body failed: stream closed",
                                  asio::error::operation_aborted);
    if (buf_.empty()) buf_.resize(read_chunk);
    try {
      while (!parser_->is_done()) {
        conn_->stream.tcp().expires_after(idle_timeout);
        parser_->get().body().data = buf_.data();
        parser_->get().body().size = buf_.size();
        auto [ec, n] = co_await http::async_read_some(conn_->stream, conn_->buffer, *parser_, use_tuple);
        const std::size_t got = buf_.size() - parser_->get().body().size;
        out.append(buf_.data(), got);
        if (ec == http::error::need_buffer) ec = {};
        if (closed_) ec = asio::error::operation_aborted;
        if (ec) throw_read_error(ec, idle_timeout);
        if (got > 0) co_return got;
      }
    } catch (const boost::system::system_error& e) {
      throw http_error(call_.prefix + ": reading response body failed: " + reason(call_, e.code()), e.code());
    }
    co_return 0;
  }

  void close() override {
    closed_ = true;
    conn_->stream.tcp().close();
  }

 private:
  [[noreturn]] void throw_read_error(error_code ec, std::chrono::milliseconds idle_timeout) {
    if (closed_)
      throw http_error(call_.prefix + ": reading response body failed: stream closed", ec);
    if (ec == beast::error::timeout)
      throw http_error(call_.prefix + ": reading response body failed: no data within idle timeout of " +
                           std::to_string(idle_timeout.count()) + " ms",
                       ec);
    fail(call_, "reading response body failed", ec);
  }

  std::shared_ptr<client_state> state_;  // the TLS context must outlive the connection
  call call_;
  connection_ptr conn_;
  std::unique_ptr<parser_t> parser_;
  unsigned status_ = 0;
  header_list headers_;
  std::vector<char> buf_;
  bool closed_ = false;
};

// A raw connection made by connect(): the byte_stream plugins speak their own protocols over.
class raw_stream final : public byte_stream {
 public:
  raw_stream(std::shared_ptr<client_state> st, call c, connection_ptr conn)
      : state_(std::move(st)), call_(std::move(c)), conn_(std::move(conn)) {
    conn_->stream.tcp().expires_never();
  }

  asio::awaitable<void> write(std::string bytes, std::chrono::milliseconds timeout) override {
    check_open("writing");
    std::size_t done = 0;
    try {
      conn_->stream.tcp().expires_at(deadline_after(timeout));
      while (done < bytes.size()) {
        auto [ec, n] = co_await conn_->stream.async_write_some(asio::buffer(bytes.data() + done, bytes.size() - done),
                                                               use_tuple);
        done += n;
        if (closed_) ec = asio::error::operation_aborted;
        if (ec) throw_error("writing failed", ec, timeout);
      }
    } catch (const http_error&) {
      throw;
    } catch (const boost::system::system_error& e) {
      throw_error("writing failed", e.code(), timeout);
    }
  }

  asio::awaitable<std::size_t> read_some(std::string& out, std::size_t max, std::chrono::milliseconds timeout) override {
    check_open("reading");
    if (max == 0) co_return 0;
    const std::size_t at = out.size();
    out.resize(at + std::min(max, read_chunk));
    try {
      conn_->stream.tcp().expires_at(deadline_after(timeout));
      auto [ec, n] = co_await conn_->stream.async_read_some(asio::buffer(out.data() + at, out.size() - at), use_tuple);
      out.resize(at + n);
      if (closed_) ec = asio::error::operation_aborted;
      if (n > 0) co_return n;
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated) co_return 0;
      if (ec) throw_error("reading failed", ec, timeout);
    } catch (const http_error&) {
      throw;
    } catch (const boost::system::system_error& e) {
      out.resize(at);
      throw_error("reading failed", e.code(), timeout);
    }
    co_return 0;
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    conn_->stream.tcp().close();
  }

 private:
  void check_open(std::string_view what) const {
    if (closed_)
      throw http_error(call_.prefix + ": " + std::string(what) + " failed: stream closed", asio::error::operation_aborted);
  }
  [[noreturn]] void throw_error(std::string_view what, error_code ec, std::chrono::milliseconds timeout) {
    if (closed_) throw http_error(call_.prefix + ": " + std::string(what) + ": stream closed", ec);
    call c = call_;
    c.timeout = timeout;
    fail(c, what, ec);
  }

  std::shared_ptr<client_state> state_;  // the TLS context must outlive the connection
  call call_;
  connection_ptr conn_;
  bool closed_ = false;
};

asio::awaitable<std::unique_ptr<byte_stream>> connect_raw(std::shared_ptr<client_state> st, std::string host,
                                                                std::uint16_t port, bool tls,
                                                                std::chrono::milliseconds timeout) {
  call c;
  error_code aec;
  const auto addr = asio::ip::make_address(host, aec);
  c.host_is_ip = !aec;
  c.host = c.host_is_ip ? host : ascii_lower(host);
  c.port = std::to_string(port);
  c.tls = tls;
  c.timeout = timeout;
  c.host_header = (c.host_is_ip && addr.is_v6() ? "[" + c.host + "]" : c.host) + ":" + c.port;
  c.prefix = std::string(tls ? "tls " : "tcp ") + c.host_header;
  if (host.empty() || port == 0) throw http_error(c.prefix + ": invalid address");
  try {
    auto conn = co_await connect(st, c, deadline_after(timeout));
    co_return std::make_unique<raw_stream>(st, std::move(c), std::move(conn));
  } catch (const http_error&) {
    throw;
  } catch (const boost::system::system_error& e) {
    throw http_error(c.prefix + ": " + reason(c, e.code()), e.code());
  }
}

}  // namespace

asio::awaitable<response> send_request(std::shared_ptr<client_state> st, request req) {
  const call c = parse_call(req);
  const auto deadline = deadline_after(req.timeout);
  auto msg = build_message(req, c, st->opts);
  try {
    auto ex = co_await exchange(st, c, msg, deadline, false);
    auto& p = *ex.parser;
    response r;
    r.status = p.get().result_int();
    r.headers = copy_headers(p);
    // The parser writes the body straight into r.body (no bounce buffer). The spare capacity
    // past a known length is simdjson's padding: a list page is scanned in place (scan_list).
    std::size_t used = 0;
    // A length the parser checked against max_body with the header; HEAD, 204 and 304 responses
    // are done at the header whatever length they announce, and get no buffer.
    const auto len = p.is_done() ? boost::none : p.content_length();
    if (len) {
      r.body.reserve(static_cast<std::size_t>(*len) + body_padding);
      r.body.resize(static_cast<std::size_t>(*len));
    }
    ex.conn->buffer.reserve(len ? std::min<std::size_t>(read_buffer_bytes, ex.conn->buffer.size() + *len)
                                : read_buffer_bytes);
    while (!p.is_done()) {
      // Chunked or read-to-close bodies grow as they come; a known length never needs to.
      if (!len && r.body.size() - used < read_chunk / 4) r.body.resize(std::max(r.body.size() * 2, used + read_chunk));
      p.get().body().data = r.body.data() + used;
      p.get().body().size = r.body.size() - used;
      auto [ec, n] = co_await http::async_read_some(ex.conn->stream, ex.conn->buffer, p, use_tuple);
      used = r.body.size() - p.get().body().size;
      if (ec == http::error::need_buffer) ec = {};
      if (ec) fail(c, "reading response body failed", ec);
    }
    r.body.resize(used);
    if (p.keep_alive() && msg.keep_alive() && !p.need_eof() && ex.conn->buffer.size() == 0) {
      ex.conn->stream.tcp().expires_never();
      ex.conn->buffer.shrink_to_fit();  // empty: frees it (taken again for the next answer)
      st->pool.release(c.key, std::move(ex.conn));
    }
    co_return r;
  } catch (const boost::system::system_error& e) {
    // Thrown by co_await itself once the coroutine's cancellation slot has fired.
    throw http_error(c.prefix + ": " + reason(c, e.code()), e.code());
  }
}

asio::awaitable<std::unique_ptr<response_stream>> open_response_stream(std::shared_ptr<client_state> st, request req) {
  const call c = parse_call(req);
  const auto deadline = deadline_after(req.timeout);
  auto msg = build_message(req, c, st->opts);
  try {
    auto ex = co_await exchange(st, c, msg, deadline, true);
    co_return std::make_unique<stream_impl>(st, c, std::move(ex));
  } catch (const boost::system::system_error& e) {
    throw http_error(c.prefix + ": " + reason(c, e.code()), e.code());
  }
}

asio::awaitable<std::unique_ptr<byte_stream>> open_byte_stream(std::shared_ptr<client_state> st, std::string host,
                                                               std::uint16_t port, bool tls,
                                                               std::chrono::milliseconds timeout) {
  return connect_raw(std::move(st), std::move(host), port, tls, timeout);
}

}  // namespace chainsd::net
