// Black-holed servers: every call of http_client ends within request.timeout, whichever step the
// peer stalls (TCP connect, TLS handshake, writing the request, the response header, the body).
#include <catch2/catch.hpp>

#include "net/http_client.hpp"
#include "test_support.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

using namespace chainsd::net;
using namespace chainsd::net::test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

// A listening socket that is never accepted from, its backlog filled by connections of our own:
// the kernel drops further SYNs, so a connect to it never completes (as with a black-holed host).
class full_backlog {
 public:
  full_backlog() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listener_, 0) == 0);
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    // Linux queues backlog + 1 connections; a few more fill the SYN side too.
    for (int i = 0; i < 4; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      fillers_.push_back(fd);
    }
    ::usleep(50'000);
  }
  ~full_backlog() {
    for (int fd : fillers_) ::close(fd);
    ::close(listener_);
  }
  std::string url(std::string_view scheme, std::string_view path) const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  int listener_ = -1;
  unsigned short port_ = 0;
  std::vector<int> fillers_;
};

asio::awaitable<void> swallow(std::shared_ptr<test_conn> c) { co_await c->wait_closed(); }

// Accepts, then neither reads nor answers: a large request body fills the socket buffers.
asio::awaitable<void> stall(std::shared_ptr<test_conn> c) {
  co_await pause(10s);
  c->close();
}

asio::awaitable<void> header_then_silence(std::shared_ptr<test_conn> c) {
  co_await c->read_request();
  co_await c->write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
  co_await c->wait_closed();
}

struct outcome {
  std::string what;
  bool timed_out = false;
  steady::duration elapsed{};
};

template <class Call>
outcome time_call(asio::io_context& io, Call call) {
  outcome o;
  const auto start = steady::now();
  run(io, [&]() -> asio::awaitable<void> {
    try {
      co_await call();
      o.what = "no error";
    } catch (const http_error& e) {
      o.what = e.what();
      o.timed_out = e.timed_out();
    }
  });
  o.elapsed = steady::now() - start;
  return o;
}

request with_timeout(std::string url, std::chrono::milliseconds t) {
  request r;
  r.url = std::move(url);
  r.timeout = t;
  return r;
}

// Within the deadline, with a margin for a loaded machine; never early.
void check_bound(const outcome& o, std::chrono::milliseconds t) {
  INFO(o.what);
  CHECK(o.timed_out);
  CHECK(o.elapsed >= t - 10ms);
  CHECK(o.elapsed < t + 1500ms);
}

}  // namespace

TEST_CASE("deadline: a connect that never completes (full backlog) ends at the deadline") {
  asio::io_context io;
  full_backlog hole;
  http_client client(io.get_executor());
  for (auto scheme : {"http", "https"}) {
    const auto url = hole.url(scheme, "/api/v1/log/entries");
    auto o = time_call(io, [&] { return client.send(with_timeout(url, 400ms)); });
    check_bound(o, 400ms);
    CHECK(o.what == "GET " + url + ": connect to 127.0.0.1:" + url.substr(url.rfind(':') + 1, 5) +
                        " failed: deadline of 400 ms exceeded");
  }
}

TEST_CASE("deadline: a TLS handshake the server never answers ends at the deadline") {
  asio::io_context io;
  test_server srv(io.get_executor(), swallow);  // plain TCP: the ClientHello is read and ignored
  client_options opts;
  opts.tls.verify = false;
  http_client client(io.get_executor(), opts);
  auto url = srv.url("/api/v1/log/entries");
  url.replace(0, 4, "https");
  auto o = time_call(io, [&] { return client.send(with_timeout(url, 400ms)); });
  check_bound(o, 400ms);
  CHECK(o.what == "GET " + url + ": TLS handshake failed: deadline of 400 ms exceeded");
  CHECK(srv.accepted() == 1);

  auto s = time_call(io, [&]() -> asio::awaitable<void> {
    co_await client.open_stream(with_timeout(url, 300ms));
  });
  check_bound(s, 300ms);
}

TEST_CASE("deadline: a request body the server never reads ends at the deadline") {
  asio::io_context io;
  test_server srv(io.get_executor(), stall);
  http_client client(io.get_executor());
  auto req = with_timeout(srv.url("/upload"), 400ms);
  req.method = "POST";
  req.body.assign(64u << 20, 'x');
  auto o = time_call(io, [&] { return client.send(req); });
  check_bound(o, 400ms);
  CHECK(o.what == "POST " + srv.url("/upload") + ": sending request failed: deadline of 400 ms exceeded");
}

TEST_CASE("deadline: a body cut off mid-way ends at the deadline; open_stream's header deadline too") {
  asio::io_context io;
  test_server srv(io.get_executor(), header_then_silence);
  http_client client(io.get_executor());
  auto o = time_call(io, [&] { return client.send(with_timeout(srv.url("/entry"), 400ms)); });
  check_bound(o, 400ms);
  CHECK(o.what == "GET " + srv.url("/entry") + ": reading response body failed: deadline of 400 ms exceeded");

  test_server silent(io.get_executor(), swallow);
  auto s = time_call(io, [&]() -> asio::awaitable<void> {
    co_await client.open_stream(with_timeout(silent.url("/watch"), 300ms));
  });
  check_bound(s, 300ms);
}

TEST_CASE("deadline: an unroutable address fails or times out within the deadline") {
  asio::io_context io;
  http_client client(io.get_executor());
  // TEST-NET-1 (RFC 5737): never routed; depending on the host's routes the connect either hangs
  // (then the deadline ends it) or fails at once (network unreachable).
  const std::string url = "http://192.0.2.1:81/api/v1/log/entries";
  auto o = time_call(io, [&] { return client.send(with_timeout(url, 400ms)); });
  INFO(o.what);
  CHECK(o.what != "no error");
  CHECK(o.elapsed < 400ms + 1500ms);
  if (o.timed_out) CHECK(o.elapsed >= 390ms);
}

TEST_CASE("deadline: a host name is resolved (the lookup is raced against the deadline)") {
  asio::io_context io;
  test_server srv(io.get_executor(), [](std::shared_ptr<test_conn> c) -> asio::awaitable<void> {
    while (co_await c->read_request()) co_await c->write(http_response(200, "ok"));
  });
  http_client client(io.get_executor());
  const std::string url = "http://localhost:" + std::to_string(srv.port()) + "/x";
  auto r = run(io, [&]() -> asio::awaitable<response> { co_return co_await client.send(with_timeout(url, 5s)); });
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
}
