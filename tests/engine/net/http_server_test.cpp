#include <catch2/catch.hpp>

#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "test_support.hpp"

#include <stdexcept>

using namespace chainsd::net;
using namespace chainsd::net::test;
using namespace std::chrono_literals;

namespace {

std::vector<response> get_all(asio::io_context& io, http_client& client, std::vector<std::string> urls,
                              std::string method = "GET") {
  return run(io, [&]() -> asio::awaitable<std::vector<response>> {
    std::vector<response> out;
    for (const auto& u : urls) {
      request req;
      req.method = method;
      req.url = u;
      req.timeout = 5s;
      out.push_back(co_await client.send(req));
    }
    co_return out;
  });
}

}  // namespace

TEST_CASE("http_server: exact routes, query ignored, 404 otherwise, keep-alive") {
  asio::io_context io;
  http_server server(io.get_executor(), "127.0.0.1:0");
  std::string seen_target;
  server.route("/metrics", [&](std::string_view target) {
    seen_target = target;
    return simple_response{200, "text/plain; version=0.0.4", "# TYPE chainsd_runs_total counter\nchainsd_runs_total 3\n"};
  });
  server.route("/healthz", [](std::string_view) { return simple_response{200, "text/plain; charset=utf-8", "ok\n"}; });
  server.route("/fail", [](std::string_view) -> simple_response { throw std::runtime_error("boom"); });
  server.start();
  const std::string base = "http://" + server.local_address();
  CHECK_THAT(server.local_address(), Catch::StartsWith("127.0.0.1:"));

  http_client client(io.get_executor());
  auto r = get_all(io, client,
                   {base + "/metrics?x=1", base + "/healthz", base + "/nope", base + "/metrics/", base + "/fail"});
  CHECK(r[0].status == 200);
  CHECK(r[0].header("content-type") == "text/plain; version=0.0.4");
  CHECK(r[0].body == "# TYPE chainsd_runs_total counter\nchainsd_runs_total 3\n");
  CHECK(seen_target == "/metrics?x=1");
  CHECK(r[1].body == "ok\n");
  CHECK(r[2].status == 404);
  CHECK(r[3].status == 404);
  CHECK(r[4].status == 500);
  CHECK(client.connections_opened() == 1);

  auto head = get_all(io, client, {base + "/healthz"}, "HEAD");
  CHECK(head[0].status == 200);
  CHECK(head[0].header("content-length") == "3");
  CHECK(head[0].body.empty());
}

TEST_CASE("http_server: stop() closes the listener and open connections") {
  asio::io_context io;
  http_server server(io.get_executor(), "127.0.0.1:0");
  server.route("/healthz", [](std::string_view) { return simple_response{200, "text/plain", "ok"}; });
  server.start();
  const std::string url = "http://" + server.local_address() + "/healthz";
  http_client client(io.get_executor());
  CHECK(get_all(io, client, {url})[0].body == "ok");
  CHECK(client.idle_connections() == 1);
  server.stop();
  // Let the session see its socket closed, then both the pooled connection and a new one fail.
  run(io, []() -> asio::awaitable<void> { co_await pause(50ms); });
  CHECK_THROWS_WITH(get_all(io, client, {url}), Catch::Contains("connection refused"));
}

TEST_CASE("http_server: bind errors name the address") {
  asio::io_context io;
  http_server first(io.get_executor(), "127.0.0.1:0");
  const auto taken = first.local_address();
  CHECK_THROWS_WITH(http_server(io.get_executor(), taken),
                    Catch::StartsWith("http server: cannot listen on " + taken + ": bind: "));
  CHECK_THROWS_WITH(http_server(io.get_executor(), "127.0.0.1"), Catch::Contains("cannot listen on 127.0.0.1"));
  CHECK_THROWS_WITH(http_server(io.get_executor(), "127.0.0.1:99999"), Catch::Contains("invalid port"));
}

TEST_CASE("http_server: a malformed request gets 400 and the connection is closed") {
  asio::io_context io;
  http_server server(io.get_executor(), "127.0.0.1:0");
  server.start();
  const auto addr = server.local_address();
  const auto port = addr.substr(addr.rfind(':') + 1);
  // The client never sends malformed requests, so a header over the server's 16 KiB limit stands in
  // for one: the server's parser rejects it.
  http_client client(io.get_executor());
  auto r = run(io, [&]() -> asio::awaitable<response> {
    request req;
    req.url = "http://127.0.0.1:" + port + "/healthz";
    req.headers = {{"Content-Length", "1"}};  // dropped by the client: must still work
    req.headers.emplace_back("X-Long", std::string(20 * 1024, 'a'));  // over the 16 KiB header limit
    co_return co_await client.send(req);
  });
  CHECK(r.status == 400);
  CHECK(r.header("connection") == "close");
  CHECK(client.idle_connections() == 0);
}
