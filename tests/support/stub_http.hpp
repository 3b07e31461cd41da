#pragma once
// Requests to a stand-in's API and test hooks from a plugin test, over the test host's client.

#include "oci_host.hpp"

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace chainsd::test_support {

inline chainsd::plugin::result<chainsd::plugin::http_response> stub_request(oci_test::oci_host& h, std::string method,
                                                                           std::string url, std::string body = {}) {
  namespace plugin = chainsd::plugin;
  return h.run([](oci_test::oci_host& h, plugin::http_request req) -> boost::asio::awaitable<plugin::result<plugin::http_response>> {
    co_return co_await h.http(std::move(req));
  }(h, plugin::http_request{std::move(method), std::move(url), {}, std::move(body)}));
}

inline boost::json::value stub_json(oci_test::oci_host& h, const std::string& url) {
  auto r = stub_request(h, "GET", url);
  REQUIRE(r.has_value());
  return boost::json::parse(r->body);
}

// POST /__stub/fault {"fault": f} (the stubkit fault list).
inline void stub_fault(oci_test::oci_host& h, const std::string& base, const std::string& f) {
  REQUIRE(stub_request(h, "POST", base + "/__stub/fault", R"({"fault":")" + f + R"("})").has_value());
}

}  // namespace chainsd::test_support

// The helpers of tests/support have one namespace, reachable as test_support:: also where
// `using namespace chainsd` is in effect.
namespace test_support = chainsd::test_support;
