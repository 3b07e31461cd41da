#include <catch2/catch.hpp>

#include "net/http_client.hpp"
#include "test_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

using namespace chainsd::net;
using namespace chainsd::net::test;
using namespace std::chrono_literals;

namespace {

asio::awaitable<void> hello(std::shared_ptr<test_conn> c) {
  while (auto req = co_await c->read_request()) co_await c->write(http_response(200, "hello " + req->target));
}

server_tls server_with(const cert_pair& p, std::string client_ca = {}) {
  return server_tls{p.cert_pem, p.key_pem, std::move(client_ca)};
}

client_options trusting(std::string ca_pem) {
  client_options o;
  o.tls.ca_pem = std::move(ca_pem);
  return o;
}

// Sends GET url; returns the body, or "error: <what>".
std::string fetch(asio::io_context& io, http_client& client, std::string url) {
  try {
    return run(io, [&]() -> asio::awaitable<std::string> {
      request req;
      req.url = url;
      req.timeout = 5s;
      auto r = co_await client.send(req);
      co_return r.body;
    });
  } catch (const http_error& e) {
    return std::string("error: ") + e.what();
  }
}

std::string localhost_url(const test_server& srv, std::string_view path) {
  return "https://localhost:" + std::to_string(srv.port()) + std::string(path);
}

}  // namespace

TEST_CASE("tls: verified connection to an IP SAN and a DNS SAN, reused") {
  asio::io_context io;
  test_server srv(io.get_executor(), hello, server_with(certs().server));
  http_client client(io.get_executor(), trusting(certs().ca.cert_pem));
  CHECK(fetch(io, client, srv.url("/a")) == "hello /a");
  CHECK(fetch(io, client, srv.url("/b")) == "hello /b");
  CHECK(client.connections_opened() == 1);
  CHECK(fetch(io, client, localhost_url(srv, "/c")) == "hello /c");  // another pool key
  CHECK(client.connections_opened() == 2);
}

TEST_CASE("tls: CA bundle from a file") {
  asio::io_context io;
  test_server srv(io.get_executor(), hello, server_with(certs().server));
  client_options o;
  o.tls.ca_file = write_temp_file("ca.pem", certs().other_ca.cert_pem + certs().ca.cert_pem);
  http_client client(io.get_executor(), o);
  CHECK(fetch(io, client, srv.url("/f")) == "hello /f");
}

TEST_CASE("tls: a server certificate from an unknown CA fails verification") {
  asio::io_context io;
  test_server srv(io.get_executor(), hello, server_with(certs().other_server));
  http_client client(io.get_executor(), trusting(certs().ca.cert_pem));
  const auto got = fetch(io, client, srv.url("/api"));
  CHECK_THAT(got, Catch::StartsWith("error: GET " + srv.url("/api") + ": TLS handshake failed: "));
  CHECK_THAT(got, Catch::Contains("certificate verify failed"));
  CHECK_THAT(got, Catch::Contains("unable to get local issuer certificate"));
}

TEST_CASE("tls: host-name and IP mismatches fail verification") {
  asio::io_context io;
  test_server srv(io.get_executor(), hello, server_with(certs().wrong_name));
  http_client client(io.get_executor(), trusting(certs().ca.cert_pem));
  const auto by_ip = fetch(io, client, srv.url("/"));
  CHECK_THAT(by_ip, Catch::Contains("certificate verify failed"));
  CHECK_THAT(by_ip, Catch::Contains("IP address mismatch"));
  const auto by_name = fetch(io, client, localhost_url(srv, "/"));
  CHECK_THAT(by_name, Catch::Contains("certificate verify failed"));
  CHECK_THAT(by_name, Catch::Contains("hostname mismatch"));
}

TEST_CASE("tls: verify=false accepts any certificate") {
  asio::io_context io;
  test_server srv(io.get_executor(), hello, server_with(certs().wrong_name));
  client_options o = trusting(certs().other_ca.cert_pem);
  o.tls.verify = false;
  http_client client(io.get_executor(), o);
  CHECK(fetch(io, client, srv.url("/insecure")) == "hello /insecure");
}

TEST_CASE("tls: client certificate for mutual TLS") {
  asio::io_context io;
  test_server srv(io.get_executor(), hello, server_with(certs().server, certs().ca.cert_pem));
  client_options with = trusting(certs().ca.cert_pem);
  with.tls.client_cert_pem = certs().client.cert_pem;
  with.tls.client_key_pem = certs().client.key_pem;
  http_client client(io.get_executor(), with);
  CHECK(fetch(io, client, srv.url("/m")) == "hello /m");

  http_client anonymous(io.get_executor(), trusting(certs().ca.cert_pem));
  CHECK_THAT(fetch(io, anonymous, srv.url("/m")), Catch::StartsWith("error: GET "));
}

TEST_CASE("tls: bad TLS options fail at construction") {
  asio::io_context io;
  client_options o;
  o.tls.ca_file = "/nonexistent/ca.pem";
  CHECK_THROWS_WITH(http_client(io.get_executor(), o), Catch::StartsWith("tls: cannot load CA file /nonexistent/ca.pem"));
  client_options p;
  p.tls.ca_pem = "not a certificate";
  CHECK_THROWS_WITH(http_client(io.get_executor(), p), Catch::StartsWith("tls: cannot load CA certificates"));
  client_options q;
  q.tls.client_cert_pem = certs().client.cert_pem;
  q.tls.client_key_pem = certs().server.key_pem;
  CHECK_THROWS_WITH(http_client(io.get_executor(), q), Catch::StartsWith("tls: cannot load client key: key values mismatch"));
}

TEST_CASE("tls: streamed chunked body") {
  asio::io_context io;
  gate next(io.get_executor());
  test_server srv(io.get_executor(), [&next](std::shared_ptr<test_conn> c) -> asio::awaitable<void> {
    co_await c->read_request();
    co_await c->write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n");
    co_await next.wait();
    co_await c->write("3\r\ntwo\r\n0\r\n\r\n");
    co_await c->wait_closed();
  }, server_with(certs().server));
  http_client client(io.get_executor(), trusting(certs().ca.cert_pem));
  std::vector<std::string> pieces;
  run(io, [&]() -> asio::awaitable<void> {
    request req;
    req.url = srv.url("/watch");
    auto s = co_await client.open_stream(req);
    for (;;) {
      std::string out;
      const auto n = co_await s->read_some(out, 2s);
      if (n == 0) break;
      pieces.push_back(out);
      next.open();
    }
  });
  CHECK(pieces == std::vector<std::string>{"one", "two"});
}

TEST_CASE("tls: the deadline covers a handshake the server never answers") {
  asio::io_context io;
  // A plain TCP server: the ClientHello is read and ignored.
  test_server srv(io.get_executor(), [](std::shared_ptr<test_conn> c) -> asio::awaitable<void> {
    co_await c->wait_closed();
  });
  http_client client(io.get_executor(), trusting(certs().ca.cert_pem));
  request req;
  req.url = "https://127.0.0.1:" + std::to_string(srv.port()) + "/";
  req.timeout = 300ms;
  std::string what;
  bool timed_out = false;
  run(io, [&]() -> asio::awaitable<void> {
    try {
      co_await client.send(req);
    } catch (const http_error& e) {
      what = e.what();
      timed_out = e.timed_out();
    }
  });
  CHECK(what == "GET " + req.url + ": TLS handshake failed: deadline of 300 ms exceeded");
  CHECK(timed_out);
}

TEST_CASE("tls: cancellation aborts a request waiting for its response") {
  asio::io_context io;
  test_server srv(io.get_executor(), [](std::shared_ptr<test_conn> c) -> asio::awaitable<void> {
    co_await c->read_request();
    co_await c->wait_closed();
  }, server_with(certs().server));
  http_client client(io.get_executor(), trusting(certs().ca.cert_pem));
  asio::cancellation_signal signal;
  std::exception_ptr error;
  request req;
  req.url = srv.url("/");
  auto done = [&](std::exception_ptr e, response) {
    error = e;
    io.stop();
  };
  asio::co_spawn(io, client.send(req), asio::bind_cancellation_slot(signal.slot(), done));
  asio::steady_timer t(io, 200ms);
  auto cancel = [&](boost::system::error_code) { signal.emit(asio::cancellation_type::terminal); };
  t.async_wait(cancel);
  io.run();
  REQUIRE(error);
  try {
    std::rethrow_exception(error);
  } catch (const http_error& e) {
    CHECK(e.error_code() == asio::error::operation_aborted);
  }
}
