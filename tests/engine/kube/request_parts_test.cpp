#include <catch2/catch.hpp>

#include "kube/errors.hpp"
#include "kube/rate_limiter.hpp"
#include "kube/resource.hpp"

using namespace chainsd::kube;
using namespace std::chrono_literals;

TEST_CASE("resource paths for core, grouped, namespaced and cluster-scoped resources") {
  CHECK(resource_path(configmaps_v1(), "ns", "cm") == "/api/v1/namespaces/ns/configmaps/cm");
  CHECK(resource_path(taskruns_v1(), "ns") == "/apis/tekton.dev/v1/namespaces/ns/taskruns");
  CHECK(resource_path(taskruns_v1(), "") == "/apis/tekton.dev/v1/taskruns");
  CHECK(resource_path({"", "v1", "namespaces", false}, "ignored", "x") == "/api/v1/namespaces/x");
  CHECK(resource_path(serviceaccounts_v1(), "ns", "sa", "token") ==
        "/api/v1/namespaces/ns/serviceaccounts/sa/token");
}

TEST_CASE("query values are percent-encoded") {
  std::string u = "/x";
  append_query(u, "labelSelector", "app=a,tier!=b");
  append_query(u, "limit", "500");
  CHECK(u == "/x?labelSelector=app%3Da%2Ctier%21%3Db&limit=500");
}

TEST_CASE("Retry-After parsing") {
  CHECK(parse_retry_after("3") == 3000ms);
  CHECK(parse_retry_after(" 0 ") == 0ms);
  CHECK(parse_retry_after("") == -1ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == -1ms);
}

TEST_CASE("token bucket: burst free, then paced at qps") {
  rate_limiter rl(10, 3);
  auto t0 = rate_limiter::clock::now();
  CHECK(rl.reserve(t0) == rate_limiter::clock::duration::zero());
  CHECK(rl.reserve(t0) == rate_limiter::clock::duration::zero());
  CHECK(rl.reserve(t0) == rate_limiter::clock::duration::zero());
  auto w1 = rl.reserve(t0);
  auto w2 = rl.reserve(t0);
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(w1).count() == Approx(100).margin(1));
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(w2).count() == Approx(200).margin(1));
  // After a long idle the bucket is full again, capped at burst.
  auto later = t0 + 10s;
  for (int i = 0; i < 3; ++i) CHECK(rl.reserve(later) == rate_limiter::clock::duration::zero());
  CHECK(rl.reserve(later) > rate_limiter::clock::duration::zero());
  rate_limiter off(0, 0);
  for (int i = 0; i < 10000; ++i) REQUIRE(off.reserve(t0) == rate_limiter::clock::duration::zero());
}
