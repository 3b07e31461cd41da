#include "net/http_server.hpp"

#include "runtime/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <charconv>
#include <cstdint>
#include <exception>
#include <map>
#include <stdexcept>
#include <unordered_map>

namespace chainsd::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

const auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Scrapers and probes send tiny requests; anything bigger is not for us.
constexpr std::uint64_t max_request_body = 64 * 1024;
constexpr std::uint32_t max_request_header = 16 * 1024;
constexpr auto request_timeout = std::chrono::seconds(30);   // slow clients cannot pin a socket
constexpr auto keepalive_timeout = std::chrono::seconds(60);

tcp::endpoint parse_endpoint(const std::string& address) {
  const auto fail = [&](const std::string& why) -> tcp::endpoint {
    throw std::runtime_error("http server: cannot listen on " + address + ": " + why);
  };
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return fail("expected HOST:PORT");
  std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535)
    return fail("invalid port \"" + port_text + "\"");
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") host = "0.0.0.0";
  error_code aec;
  auto addr = asio::ip::make_address(host, aec);
  if (!aec) return {addr, static_cast<unsigned short>(port)};
  // A name ("localhost"): resolving blocks, which is acceptable here because servers are built
  // at start-up, before the loop runs.
  asio::io_context io;
  tcp::resolver resolver(io);
  error_code rec;
  auto results = resolver.resolve(host, port_text, rec);
  if (rec || results.empty()) return fail("cannot resolve " + host + ": " + rec.message());
  return results.begin()->endpoint();
}

std::string format_endpoint(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  const std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}

struct server_state {
  server_state(asio::any_io_executor e, std::string addr) : ex(std::move(e)), address(std::move(addr)), acceptor(ex) {}

  asio::any_io_executor ex;
  std::string address;
  tcp::acceptor acceptor;
  std::map<std::string, route_handler, std::less<>> routes;
  // Open connections, so stop() can close them; each entry lives in a session's frame.
  std::unordered_map<std::uint64_t, beast::tcp_stream*> sessions;
  std::uint64_t next_session = 0;
  bool started = false;
  bool stopped = false;

  simple_response dispatch(std::string_view target) const {
    const std::string_view path = target.substr(0, target.find('?'));
    auto it = routes.find(path);
    if (it == routes.end()) return {404, "text/plain; charset=utf-8", "not found\n"};
    try {
      return it->second(target);
    } catch (const std::exception& e) {
      log::error("http handler failed", {{"path", path}, {"error", e.what()}});
      return {500, "text/plain; charset=utf-8", "internal error\n"};
    }
  }
};

}  // namespace

// The coroutines below hold the state by shared_ptr: it outlives the http_server object until the
// last session has finished.
struct http_server::impl : server_state {
  using server_state::server_state;
};

namespace {

void log_failure(std::string_view what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::warn(what, {{"error", ex.what()}});
  } catch (...) {
    log::warn(what, {{"error", "unknown exception"}});
  }
}

asio::awaitable<void> session(std::shared_ptr<server_state> self, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  const auto id = self->next_session++;
  self->sessions.emplace(id, &stream);
  struct untrack {
    server_state& s;
    std::uint64_t id;
    ~untrack() { s.sessions.erase(id); }
  } guard{*self, id};

  beast::flat_buffer buffer;
  for (bool first = true; !self->stopped; first = false) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(max_request_body);
    parser.header_limit(max_request_header);
    stream.expires_after(first ? request_timeout : keepalive_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (self->stopped || ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset || ec == asio::error::eof)
      break;
    if (ec) {
      // A malformed request gets a plain 400 and the connection is closed: resynchronising on a
      // broken byte stream is not worth it for a metrics endpoint.
      http::response<http::string_body> bad{http::status::bad_request, 11};
      bad.set(http::field::content_type, "text/plain; charset=utf-8");
      bad.body() = "bad request: " + ec.message() + "\n";
      bad.keep_alive(false);
      bad.prepare_payload();
      stream.expires_after(request_timeout);
      co_await http::async_write(stream, bad, use_tuple);
      break;
    }
    const auto& req = parser.get();
    const simple_response out = self->dispatch(req.target());
    if (self->stopped) break;
    http::response<http::string_body> res{static_cast<http::status>(out.status), req.version()};
    res.set(http::field::server, "chainsd");
    res.set(http::field::content_type, out.content_type);
    res.keep_alive(req.keep_alive());
    const bool head = req.method() == http::verb::head;
    if (!head) res.body() = out.body;
    res.prepare_payload();
    if (head) res.content_length(out.body.size());
    stream.expires_after(request_timeout);
    auto [wec, written] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

asio::awaitable<void> accept_loop(std::shared_ptr<server_state> self) {
  while (!self->stopped) {
    auto [ec, socket] = co_await self->acceptor.async_accept(use_tuple);
    if (self->stopped || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Typically EMFILE: back off briefly instead of spinning on the same error.
      log::warn("http server accept failed", {{"address", self->address}, {"error", ec.message()}});
      asio::steady_timer pause(self->ex, std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto completion = [](std::exception_ptr e) { log_failure("http server session failed", e); };
    asio::co_spawn(self->ex, session(self, std::move(socket)), completion);
  }
}

}  // namespace

http_server::http_server(asio::any_io_executor ex, std::string address)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(address))) {
  const auto ep = parse_endpoint(impl_->address);
  auto& a = impl_->acceptor;
  error_code ec;
  const auto step = [&](const char* what) {
    if (ec) throw std::runtime_error("http server: cannot listen on " + impl_->address + ": " + what + ": " + ec.message());
  };
  a.open(ep.protocol(), ec);
  step("open");
  a.set_option(tcp::acceptor::reuse_address(true), ec);
  step("set SO_REUSEADDR");
  a.bind(ep, ec);
  step("bind");
  a.listen(asio::socket_base::max_listen_connections, ec);
  step("listen");
}

http_server::~http_server() { stop(); }

void http_server::route(std::string path, route_handler h) { impl_->routes[std::move(path)] = std::move(h); }

void http_server::start() {
  if (impl_->started || impl_->stopped) return;
  impl_->started = true;
  auto completion = [](std::exception_ptr e) { log_failure("http server accept loop failed", e); };
  asio::co_spawn(impl_->ex, accept_loop(impl_), completion);
}

void http_server::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  error_code ignored;
  impl_->acceptor.close(ignored);
  for (auto& [id, stream] : impl_->sessions) stream->close();
}

std::string http_server::local_address() const {
  error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return impl_->address;
  return format_endpoint(ep);
}

}  // namespace chainsd::net
