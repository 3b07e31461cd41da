#include "server.hpp"

#include "runtime/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cstdio>
#include <iostream>
#include <optional>

namespace chainsd::testserver {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr std::chrono::seconds idle_timeout{300};
constexpr std::chrono::seconds write_timeout{60};
constexpr std::size_t max_batch_frames = 512;
constexpr std::size_t max_batch_bytes = 4 << 20;

const std::string& event_prefix(event_type t) {
  static const std::string prefixes[] = {
      R"({"type":"ADDED","object":)", R"({"type":"MODIFIED","object":)", R"({"type":"DELETED","object":)",
      R"({"type":"BOOKMARK","object":)", R"({"type":"ERROR","object":)"};
  return prefixes[static_cast<int>(t)];
}
const std::string event_suffix = "}\n";
const std::string crlf = "\r\n";

std::string_view status_text(unsigned code) {
  switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

// Request logs go to stderr: stdout's first line is the URL protocol with the test harness, and
// a harness that stops reading stdout must not be able to stall the server.
void log_line(std::string_view msg, std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  std::string line = "{\"ts\":\"" + now_rfc3339_micro() + "\",\"level\":\"info\",\"msg\":\"";
  log::json_escape(line, msg);
  line += '"';
  for (const auto& [k, v] : fields) {
    line += ",\"";
    log::json_escape(line, k);
    line += "\":\"";
    log::json_escape(line, v);
    line += '"';
  }
  line += "}\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

struct state {
  const server_config& cfg;
  api& api_;
  store& store_;
};

template <class Stream>
tcp::socket& socket_of(Stream& s) {
  return beast::get_lowest_layer(s).socket();
}

template <class Stream>
awaitable<bool> write_buffers(Stream& stream, const std::vector<asio::const_buffer>& bufs) {
  beast::get_lowest_layer(stream).expires_after(write_timeout);
  auto [ec, n] = co_await asio::async_write(stream, bufs, use_tuple);
  co_return !ec;
}

template <class Stream>
awaitable<bool> write_response(Stream& stream, const api_response& r, bool keep_alive) {
  std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(status_text(r.status)) +
                     "\r\nContent-Type: " + r.content_type + "\r\nCache-Control: no-cache, private\r\n"
                     "Content-Length: " + std::to_string(r.size()) + "\r\n";
  for (const auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
  if (!keep_alive) head += "Connection: close\r\n";
  head += "\r\n";
  std::vector<asio::const_buffer> bufs;
  bufs.reserve(r.parts.size() + 1);
  bufs.emplace_back(asio::buffer(head));
  for (const auto& p : r.parts)
    if (!p->empty()) bufs.emplace_back(asio::buffer(*p));
  co_return co_await write_buffers(stream, bufs);
}

// Shared between a watch coroutine and the close detector it starts.
struct watch_state {
  explicit watch_state(asio::any_io_executor ex) : wake(ex) {}
  asio::steady_timer wake;
  bool peer_closed = false;
};

template <class Stream>
awaitable<bool> write_frames(Stream& stream, const std::vector<frame>& batch) {
  std::size_t size = 0;
  for (const auto& f : batch) size += event_prefix(f.type).size() + f.object->size() + event_suffix.size();
  char hex[32];
  int n = std::snprintf(hex, sizeof hex, "%zx\r\n", size);
  std::vector<asio::const_buffer> bufs;
  bufs.reserve(batch.size() * 3 + 2);
  bufs.emplace_back(hex, static_cast<std::size_t>(n));
  for (const auto& f : batch) {
    bufs.emplace_back(asio::buffer(event_prefix(f.type)));
    bufs.emplace_back(asio::buffer(*f.object));
    bufs.emplace_back(asio::buffer(event_suffix));
  }
  bufs.emplace_back(asio::buffer(crlf));
  co_return co_await write_buffers(stream, bufs);
}

template <class Stream>
awaitable<bool> write_chunk_end(Stream& stream) {
  static const std::string last = "0\r\n\r\n";
  std::vector<asio::const_buffer> bufs{asio::buffer(last)};
  co_return co_await write_buffers(stream, bufs);
}

const std::string watch_head =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-cache, private\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

// Streams one watch. Returns true when the connection may serve another request.
template <class Stream>
awaitable<bool> run_watch(Stream& stream, state& st, watch_params p, bool keep_alive) {
  auto ex = co_await asio::this_coro::executor;
  auto ws = std::make_shared<watch_state>(ex);
  watcher w;
  w.filter = p.filter;
  w.notify = [raw = ws.get()] { raw->wake.cancel(); };
  std::vector<frame> initial;
  std::optional<api_error> refused;
  try {
    initial = st.store_.start_watch(w, p.resource_version);
  } catch (const api_error& e) {
    refused = e;
  }
  if (refused) {
    if (refused->code != 410)
      co_return co_await write_response(stream, api::status_response(refused->code, refused->reason, refused->what()), keep_alive);
    // kube-apiserver answers 200 and puts the 410 in a single ERROR event.
    std::vector<asio::const_buffer> head{asio::buffer(watch_head)};
    if (!co_await write_buffers(stream, head)) co_return false;
    std::vector<frame> err{frame{event_type::error, store::status_object(410, "Expired", refused->what())}};
    if (!co_await write_frames(stream, err)) co_return false;
    co_return co_await write_chunk_end(stream) && keep_alive;
  }
  struct unregister {
    store& s;
    watcher& w;
    ~unregister() { s.stop_watch(w); }
  } guard{st.store_, w};

  if (p.send_initial_events && p.bookmarks)
    initial.push_back(frame{event_type::bookmark, st.store_.bookmark_object(p.filter.resource, true)});
  {
    std::vector<asio::const_buffer> head{asio::buffer(watch_head)};
    if (!co_await write_buffers(stream, head)) co_return false;
  }
  // A client that goes away is noticed without waiting for the next event: the socket turns
  // readable (EOF). Clients send nothing while a watch is open.
  socket_of(stream).async_wait(tcp::socket::wait_read, [ws](boost::system::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    ws->peer_closed = true;
    ws->wake.cancel();
  });
  struct cancel_wait {
    tcp::socket& s;
    ~cancel_wait() {
      boost::system::error_code ignored;
      s.cancel(ignored);
    }
  } wait_guard{socket_of(stream)};

  const auto interval = st.cfg.bookmark_interval;
  auto now = std::chrono::steady_clock::now();
  const auto deadline = now + p.timeout;
  auto next_bookmark = now + interval;
  std::size_t next_initial = 0;
  std::uint64_t sent = 0;
  std::vector<frame> batch;
  while (true) {
    if (ws->peer_closed || w.overflow) co_return false;
    batch.clear();
    std::size_t bytes = 0;
    while (next_initial < initial.size() && batch.size() < max_batch_frames && bytes < max_batch_bytes) {
      bytes += initial[next_initial].object->size();
      batch.push_back(std::move(initial[next_initial++]));
    }
    if (next_initial == initial.size()) {
      while (!w.queue.empty() && batch.size() < max_batch_frames && bytes < max_batch_bytes) {
        bytes += w.queue.front().object->size();
        batch.push_back(std::move(w.queue.front()));
        w.queue.pop_front();
      }
    }
    if (!batch.empty()) {
      std::uint64_t drop_after = st.api_.faults().drop_watch_after_events;
      bool drop = false;
      if (drop_after) {
        std::uint64_t counted = 0;
        std::size_t keep = 0;
        for (; keep < batch.size(); ++keep) {
          if (batch[keep].type != event_type::bookmark) {
            if (sent + counted == drop_after) break;
            ++counted;
          }
        }
        if (keep < batch.size() || sent + counted >= drop_after) {
          batch.resize(keep);
          drop = sent + counted >= drop_after;
        }
      }
      if (!batch.empty()) {
        if (!co_await write_frames(stream, batch)) co_return false;
        for (const auto& f : batch) {
          if (f.type == event_type::bookmark) continue;
          ++sent;
          st.api_.count_watch_event();
        }
      }
      if (drop) {
        // Abrupt: no terminating chunk, like a proxy or apiserver restart cutting the stream.
        boost::system::error_code ignored;
        socket_of(stream).shutdown(tcp::socket::shutdown_both, ignored);
        socket_of(stream).close(ignored);
        co_return false;
      }
      continue;
    }
    now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      if (p.bookmarks) {
        std::vector<frame> bm{frame{event_type::bookmark, st.store_.bookmark_object(p.filter.resource, false)}};
        if (!co_await write_frames(stream, bm)) co_return false;
      }
      co_return co_await write_chunk_end(stream) && keep_alive;
    }
    if (p.bookmarks && now >= next_bookmark) {
      std::vector<frame> bm{frame{event_type::bookmark, st.store_.bookmark_object(p.filter.resource, false)}};
      if (!co_await write_frames(stream, bm)) co_return false;
      next_bookmark = now + interval;
      continue;
    }
    ws->wake.expires_at(p.bookmarks ? std::min(deadline, next_bookmark) : deadline);
    co_await ws->wake.async_wait(use_tuple);
  }
}

template <class Stream>
awaitable<void> serve(Stream& stream, state& st) {
  beast::flat_buffer buffer;
  // Beast sizes each read by the buffer's free capacity (at least 512 bytes): a fresh buffer
  // would take a 40 KB patch in dozens of small reads. One 64 KB buffer per connection, reused.
  buffer.reserve(64 * 1024);
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1ull << 30);
    parser.header_limit(1 << 20);
    beast::get_lowest_layer(stream).expires_after(idle_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (ec) break;
    if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      // curl sends this for bodies over 1 KiB and would otherwise wait a second for it.
      static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
      std::vector<asio::const_buffer> bufs{asio::buffer(cont)};
      if (!co_await write_buffers(stream, bufs)) break;
    }
    if (!parser.is_done()) {
      auto [ec2, n2] = co_await http::async_read(stream, buffer, parser, use_tuple);
      if (ec2) break;
    }
    auto& msg = parser.get();
    api_request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.content_type = std::string(msg[http::field::content_type]);
    req.accept = std::string(msg[http::field::accept]);
    req.authorization = std::string(msg[http::field::authorization]);
    req.user_agent = std::string(msg[http::field::user_agent]);
    req.body = std::move(msg.body());
    bool keep_alive = msg.keep_alive();
    if (std::uint64_t ms = st.api_.latency_ms(req)) {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
      co_await t.async_wait(use_tuple);
    }
    auto start = std::chrono::steady_clock::now();
    dispatch_result r = st.api_.handle(req);
    bool ok;
    unsigned status = 200;
    if (r.response) {
      status = r.response->status;
      ok = co_await write_response(stream, *r.response, keep_alive);
    } else {
      if (st.cfg.log_requests) log_line("watch started", {{"method", req.method}, {"target", req.target}});
      ok = co_await run_watch(stream, st, std::move(*r.watch), keep_alive);
    }
    if (st.cfg.log_requests) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
      log_line("request", {{"method", req.method},
                           {"target", req.target},
                           {"verb", r.verb},
                           {"resource", r.resource},
                           {"status", std::to_string(status)},
                           {"duration_us", std::to_string(us)},
                           {"user_agent", req.user_agent}});
    }
    if (!ok || !keep_alive) break;
  }
}

awaitable<void> session(tcp::socket sock, state& st, asio::ssl::context* tls) {
  sock.set_option(tcp::no_delay(true));
  if (!tls) {
    beast::tcp_stream stream(std::move(sock));
    co_await serve(stream, st);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(sock), *tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (ec) co_return;
  co_await serve(stream, st);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
  co_await stream.async_shutdown(use_tuple);
}

awaitable<void> accept_loop(tcp::acceptor& acceptor, state& st, asio::ssl::context* tls) {
  while (true) {
    auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // EMFILE and friends: back off instead of spinning on a listener that stays readable.
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto done = [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log_line("connection failed", {{"error", ex.what()}});
      }
    };
    asio::co_spawn(acceptor.get_executor(), session(std::move(sock), st, tls), done);
  }
}

}  // namespace

int run_server(const server_config& cfg, api& a, store& s,
               const std::function<void(const std::string& url)>& on_listening) {
  // Declared before the io_context: coroutine frames still suspended at shutdown are destroyed
  // with it and must not outlive what they point to.
  state st{cfg, a, s};
  std::unique_ptr<asio::ssl::context> tls;
  if (!cfg.tls_cert_pem.empty()) {
    tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    tls->use_certificate_chain(asio::buffer(cfg.tls_cert_pem));
    tls->use_private_key(asio::buffer(cfg.tls_key_pem), asio::ssl::context::pem);
  }
  asio::io_context ioc(1);
  std::string host = cfg.host == "localhost" ? "127.0.0.1" : cfg.host;
  tcp::endpoint ep(asio::ip::make_address(host), cfg.port);
  tcp::acceptor acceptor(ioc);
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(asio::socket_base::max_listen_connections);
  auto bound = acceptor.local_endpoint();
  std::string shown = bound.address().is_unspecified() ? "127.0.0.1" : bound.address().to_string();
  if (bound.address().is_v6()) shown = "[" + shown + "]";
  std::string url = std::string(tls ? "https" : "http") + "://" + shown + ":" + std::to_string(bound.port());
  a.set_base_url(url);
  on_listening(url);

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    ioc.stop();
  });
  auto done = [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  };
  asio::co_spawn(ioc, accept_loop(acceptor, st, tls.get()), done);
  ioc.run();
  return 0;
}

}  // namespace chainsd::testserver
