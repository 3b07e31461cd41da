#include <catch2/catch.hpp>

#include "../../support/fake_host.hpp"
#include "../../support/load_plugin.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

using namespace chainsd;

TEST_CASE("tekton storage returns upstream's four base64 annotations for the engine's patch") {
  test_support::fake_host host;
  auto st = test_support::installed_plugins().make_storage("tekton", host, {});
  REQUIRE(st.has_value());
  plugin::store_request req;
  req.run = {"tekton.dev/v1", "TaskRun", "ns", "build", "abc-123", ""};
  req.short_key = "taskrun-abc-123";
  req.payload = R"({"_type":"x"})";
  req.signature = "{\"payloadType\":\"application/vnd.in-toto+json\"}";
  req.cert_pem = "";
  auto fut = boost::asio::co_spawn(host.ctx, (*st)->store(req), boost::asio::use_future);
  host.ctx.run();
  auto r = fut.get();
  REQUIRE(r.has_value());
  const auto& a = r->annotations;
  REQUIRE(a.size() == 4);
  CHECK(plugin::base64_decode(a.at("chains.tekton.dev/payload-taskrun-abc-123")) == req.payload);
  CHECK(plugin::base64_decode(a.at("chains.tekton.dev/signature-taskrun-abc-123")) == req.signature);
  CHECK(a.at("chains.tekton.dev/cert-taskrun-abc-123").empty());
  CHECK(a.at("chains.tekton.dev/chain-taskrun-abc-123").empty());
}

TEST_CASE("tekton storage refuses an empty key instead of writing a nameless annotation") {
  test_support::fake_host host;
  auto st = test_support::installed_plugins().make_storage("tekton", host, {});
  REQUIRE(st.has_value());
  plugin::store_request req;
  req.run.namespace_name = "ns";
  req.run.name = "build";
  auto fut = boost::asio::co_spawn(host.ctx, (*st)->store(req), boost::asio::use_future);
  host.ctx.run();
  auto r = fut.get();
  REQUIRE(r.has_error());
  CHECK(r.error().code == plugin::errc::permanent);
  CHECK_THAT(r.error().message, Catch::Contains("ns/build"));
}

TEST_CASE("base64 matches Go's StdEncoding for every tail length") {
  CHECK(plugin::base64_encode("") == "");
  CHECK(plugin::base64_encode("f") == "Zg==");
  CHECK(plugin::base64_encode("fo") == "Zm8=");
  CHECK(plugin::base64_encode("foo") == "Zm9v");
  CHECK(plugin::base64_encode("\xff\xfe") == "//4=");
}
